"""The bodies of schedules and webhook triggers: tasks that start without a person.

A schedule's or trigger's `template` is an execute body, checked as `POST /api/v1/execute`
checks one (unknown fields refused, then against this server's providers and tools: see
`Submissions.prepare_template`); it names no task or session, since each run is a task of
its own (`session_id`, beside the template, names a session the runs share).
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from ..config import parse_duration
from ..config.triggers import ENV_NAME_PATTERN, NAME_PATTERN
from ..schedules import Overlap, ScheduleView
from ..tenants import DEFAULT_TENANT
from ..triggers import TriggerDefinition
from .bodies import ID_PATTERN, ExecuteRequest
from .openapi import Accepted

__all__ = [
    "BackfillAccepted",
    "BackfillRequest",
    "ScheduleList",
    "ScheduleRequest",
    "TriggerAccepted",
    "TriggerList",
    "TriggerRequest",
]

# Five fields (minute hour day-of-month month day-of-week), or a shorthand. Temporal reads a
# sixth field as years, not seconds: intervals say "every 5 seconds".
_CRON_FIELD = r"[0-9A-Za-z*/,?#L-]+"
_CRON = re.compile(
    rf"^\s*(@(yearly|annually|monthly|weekly|daily|hourly)|{_CRON_FIELD}(\s+{_CRON_FIELD}){{4}})\s*$"
)
MIN_INTERVAL = 1.0  # seconds


class ScheduleRequest(BaseModel):
    """Body of `POST /api/v1/schedules`: the template and either `cron` (5 fields, in
    `time_zone`) or `interval` (`"5s"`, `"1h"`, or seconds); `overlap` says what a tick does
    while the previous run's task has not ended: `skip` it, `buffer_one` (run once that
    ends), or `allow` (run beside it)."""

    model_config = ConfigDict(extra="forbid")

    schedule_id: str | None = Field(default=None, pattern=NAME_PATTERN)
    template: ExecuteRequest
    cron: str | None = Field(default=None, min_length=1, max_length=256)
    interval: str | float | None = None
    time_zone: str = Field(default="UTC", min_length=1, max_length=64)
    overlap: Overlap = "skip"
    session_id: str | None = Field(default=None, pattern=ID_PATTERN)
    paused: bool = False

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, cron: str | None) -> str | None:
        if cron is not None and not _CRON.match(cron):
            raise ValueError(
                "a cron expression has 5 fields (minute hour day month weekday), or is "
                "@hourly, @daily, @weekly, @monthly or @yearly; for seconds use interval"
            )
        return cron

    @field_validator("interval")
    @classmethod
    def _duration(cls, interval: str | float | None) -> str | float | None:
        if interval is not None and parse_duration(interval) < MIN_INTERVAL:
            raise ValueError(f"must be at least {MIN_INTERVAL:g}s")
        return interval

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not an IANA time zone: {zone!r} (e.g. Europe/Berlin)") from None
        return zone


class ScheduleList(BaseModel):
    """`GET /api/v1/schedules`: every schedule, oldest first."""

    schedules: list[ScheduleView]


class BackfillRequest(BaseModel):
    """Body of `POST /api/v1/schedules/{id}/backfill`: run the schedule's times after
    `start` up to `end` now (with a time zone, e.g. `2026-12-07T09:00:00Z`), one after
    another, or as `overlap` says."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime
    overlap: Overlap | None = None


class BackfillAccepted(BaseModel):
    """The times a backfill runs (each a task, unless that time ran already)."""

    schedule_id: str
    times: list[AwareDatetime]


class TriggerRequest(BaseModel):
    """Body of `POST /api/v1/triggers`: a trigger's name (its URL is
    `/api/v1/triggers/<name>`), its template (`user_message` a Jinja template of the
    webhook's JSON `body`), the environment variable holding its secret (it must be set on
    the API), and the session its tasks share (unset: each task starts its own)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    template: ExecuteRequest
    secret_env: str = Field(pattern=ENV_NAME_PATTERN)
    session_id: str | None = Field(default=None, pattern=ID_PATTERN)

    def definition(self, tenant: str) -> TriggerDefinition:
        """The trigger this asks for, of `tenant`."""
        template: dict[str, Any] = self.template.model_dump(by_alias=True, exclude_unset=True)
        return TriggerDefinition(
            name=self.name,
            template=template,
            secret_env=self.secret_env,
            session_id=self.session_id,
            tenant=tenant,
        )


class TriggerList(BaseModel):
    """`GET /api/v1/triggers`: the triggers of config, then those made through the API."""

    triggers: list[TriggerDefinition]


class TriggerAccepted(Accepted):
    """The task a webhook started (or, for a delivery id sent before, the one it started
    then), in the trigger's tenant."""

    trigger: str
    delivery_id: str | None = None
    tenant: str = DEFAULT_TENANT
