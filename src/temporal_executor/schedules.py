"""Schedules: tasks that start on a timetable, on Temporal Schedules.

A schedule is a Temporal Schedule (id `agent-schedule-{schedule_id}`) whose action starts a
`ScheduledRunWorkflow` with the schedule's template, resolved when the schedule was made
(`ScheduledRunInput`). Temporal fires it once per tick, whichever processes are up, and each
run starts one task (`workflows/scheduled_run.py` says how). What the user asked for is kept
in the store as given (`Definitions`, kind `schedule`): Temporal hands a cron string back as
calendar entries, and the template as resolved, not as written.

A schedule's runs use the config as it was when the schedule was made (as a submitted task
does): a schedule is made again to take a new default or timeout.

Tenants: a schedule is its maker's tenant's. This service takes and keeps its id as a *key*
(`tenants.scoped`: `team-a~standup`, unchanged for `default`), and so does its session; it is
named in Temporal by that key, so its runs' workflow ids, and the task ids that come from
them (`tasks.scheduled_task_id`: `team-a~standup-2026-…Z`), are the tenant's keys too. A
`ScheduleView` shows the ids as the tenant knows them, with the tenant.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, Field
from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from .config import parse_duration
from .errors import ConflictError, RequestError, ScheduleNotFoundError
from .store import Definitions
from .tasks import schedule_workflow_id, scheduled_task_id
from .tenants import DEFAULT_TENANT, name, split
from .workflows import AgentInput, ScheduledRunInput, ScheduledRunWorkflow

__all__ = [
    "MAX_BACKFILL_RUNS",
    "OVERLAP",
    "Overlap",
    "ScheduleDefinition",
    "ScheduleRun",
    "ScheduleService",
    "ScheduleView",
]

KIND = "schedule"
Overlap = Literal["skip", "buffer_one", "allow"]
# What a tick does while the schedule's previous run (its task) has not ended: nothing; run
# once that one ends (one at most waits); run at once, beside it.
OVERLAP: dict[str, ScheduleOverlapPolicy] = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "allow": ScheduleOverlapPolicy.ALLOW_ALL,
}
# The most runs one backfill may start (a backfill over a year of a 5-second interval would
# start millions of tasks).
MAX_BACKFILL_RUNS = 100


class ScheduleDefinition(BaseModel):
    """A schedule as its creator gave it: the template (the execute body), a cron expression
    or an interval, the time zone, the overlap policy and the session its runs share (None:
    each run starts a session of its own). Kept with its id and session as keys (of its
    tenant); a `ScheduleView` shows them as the tenant knows them."""

    schedule_id: str
    template: dict[str, Any]
    cron: str | None = None
    interval: str | float | None = None
    time_zone: str = "UTC"
    overlap: Overlap = "skip"
    session_id: str | None = None
    created_at: float = Field(default_factory=time.time)

    def spec(self) -> ScheduleSpec:
        intervals = []
        if self.interval is not None:
            intervals = [ScheduleIntervalSpec(every=timedelta(seconds=self.seconds()))]
        return ScheduleSpec(
            cron_expressions=[self.cron] if self.cron else [],
            intervals=intervals,
            time_zone_name=self.time_zone,
        )

    def seconds(self) -> float:
        return parse_duration(self.interval)


class ScheduleRun(BaseModel):
    """One run: when it was due, when it started, and the task it is."""

    scheduled_at: datetime
    started_at: datetime
    task_id: str


class ScheduleView(ScheduleDefinition):
    """A schedule as it stands: its definition, whether it is paused (None: Temporal has no
    such schedule any more, e.g. deleted in the Temporal UI), its latest runs (oldest first,
    at most 10) and next times (at most 10; while paused, those it would run at), and its
    counts of runs and of ticks skipped because the previous run had not ended."""

    paused: bool | None = None
    recent_runs: list[ScheduleRun] = Field(default_factory=list)
    next_runs: list[datetime] = Field(default_factory=list)
    runs: int = 0
    skipped: int = 0
    tenant: str = DEFAULT_TENANT


class ScheduleService:
    """Schedules on the task queue `task_queue` of `client`, defined in `definitions`. A
    `schedule_id` here is a key: the id in its tenant's keys (`tenants.scoped`)."""

    def __init__(self, client: Client, definitions: Definitions, task_queue: str) -> None:
        self.client = client
        self.definitions = definitions
        self.task_queue = task_queue

    async def create(
        self, definition: ScheduleDefinition, agent: AgentInput, *, paused: bool = False
    ) -> ScheduleView:
        """Make the schedule: `agent` is its template as a submission resolves it.
        `ConflictError` when the id is taken; `RequestError` (naming `cron` or `interval`)
        when Temporal refuses the timetable."""
        schedule_id = definition.schedule_id
        if not await self.definitions.add(KIND, schedule_id, definition.model_dump(mode="json")):
            raise ConflictError(
                f"schedule {name(schedule_id)!r} exists already",
                details={"schedule_id": name(schedule_id)},
            )
        run = ScheduledRunInput(
            schedule_id=schedule_id, agent=agent, session_id=definition.session_id
        )
        action = ScheduleActionStartWorkflow(
            ScheduledRunWorkflow.run,
            run,
            id=schedule_workflow_id(schedule_id),
            task_queue=self.task_queue,
            static_summary=f"a run of schedule {schedule_id}",
        )
        schedule = Schedule(
            action=action,
            spec=definition.spec(),
            policy=SchedulePolicy(overlap=OVERLAP[definition.overlap]),
            state=ScheduleState(paused=paused),
        )
        try:
            await self.client.create_schedule(schedule_workflow_id(schedule_id), schedule)
        except BaseException as exc:
            await self.definitions.delete(KIND, schedule_id)  # nothing half-made stays
            if isinstance(exc, ScheduleAlreadyRunningError):
                raise ConflictError(f"schedule {name(schedule_id)!r} exists in Temporal") from None
            if isinstance(exc, RPCError) and exc.status == RPCStatusCode.INVALID_ARGUMENT:
                field = "cron" if definition.cron else "interval"
                raise RequestError(f"{field}: {exc.message}", details={field: ""}) from None
            raise
        return await self.get(schedule_id)

    async def get(self, schedule_id: str) -> ScheduleView:
        definition = await self._definition(schedule_id)
        try:
            description = await self._handle(schedule_id).describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            description = None
        return _view(definition, description)

    async def every(self, tenant: str | None) -> list[ScheduleView]:
        """Every schedule of `tenant` (None: of every tenant), oldest first, each as it
        stands in Temporal."""
        stored = await self.definitions.every(KIND)
        keys = [data["schedule_id"] for data in stored]
        keys = [key for key in keys if tenant is None or split(key)[0] == tenant]
        return list(await asyncio.gather(*map(self.get, keys)))

    async def delete(self, schedule_id: str) -> None:
        """Delete the schedule; its runs that have not ended go on, as tasks do."""
        await self._definition(schedule_id)
        try:
            await self._handle(schedule_id).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        await self.definitions.delete(KIND, schedule_id)

    async def pause(self, schedule_id: str, paused: bool) -> ScheduleView:
        """Pause the schedule (no tick starts a run until it is resumed) or resume it."""
        handle = await self._live(schedule_id)
        await (handle.pause() if paused else handle.unpause())
        return await self.get(schedule_id)

    async def backfill(
        self, schedule_id: str, start: datetime, end: datetime, overlap: Overlap | None
    ) -> list[datetime]:
        """Run the schedule for its times after `start` up to `end` now (even if paused),
        as each would have run then: one after another, unless `overlap` says otherwise (the
        times come all at once, so the schedule's own `skip` would run only the first); a
        time that ran already starts nothing again (its task exists). Returns those times;
        `RequestError` for more than `MAX_BACKFILL_RUNS`."""
        if end <= start:
            raise RequestError("end: must be after start", details={"end": end.isoformat()})
        handle = await self._live(schedule_id)
        times = await self._matching_times(schedule_id, start, end)
        if len(times) > MAX_BACKFILL_RUNS:
            raise RequestError(
                f"end: {len(times)} runs between start and end; a backfill starts at most "
                f"{MAX_BACKFILL_RUNS}",
                details={"runs": len(times)},
            )
        if times:
            policy = OVERLAP[overlap] if overlap else ScheduleOverlapPolicy.BUFFER_ALL
            await handle.backfill(ScheduleBackfill(start_at=start, end_at=end, overlap=policy))
        return times

    async def _matching_times(
        self, schedule_id: str, start: datetime, end: datetime
    ) -> list[datetime]:
        """The schedule's times after `start` up to `end` (Temporal computes them)."""
        request = ListScheduleMatchingTimesRequest(
            namespace=self.client.namespace,
            schedule_id=schedule_workflow_id(schedule_id),
            start_time=_timestamp(start),
            end_time=_timestamp(end),
        )
        response = await self.client.workflow_service.list_schedule_matching_times(request)
        times = [t.ToDatetime(tzinfo=UTC) for t in response.start_time]
        return [t for t in times if start < t <= end]

    async def _definition(self, schedule_id: str) -> ScheduleDefinition:
        data = await self.definitions.get(KIND, schedule_id)
        if data is None:
            raise ScheduleNotFoundError(f"no schedule with id {name(schedule_id)!r}")
        return ScheduleDefinition.model_validate(data)

    async def _live(self, schedule_id: str) -> ScheduleHandle:
        """The schedule's handle, once it is known to exist (in the store and Temporal)."""
        await self._definition(schedule_id)
        handle = self._handle(schedule_id)
        try:
            await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise ConflictError(
                    f"schedule {name(schedule_id)!r} is gone from Temporal; delete it, or make "
                    "it again"
                ) from None
            raise
        return handle

    def _handle(self, schedule_id: str) -> ScheduleHandle:
        return self.client.get_schedule_handle(schedule_workflow_id(schedule_id))


def _view(definition: ScheduleDefinition, description: ScheduleDescription | None) -> ScheduleView:
    """The schedule as its tenant sees it (None: Temporal has no such schedule any more)."""
    tenant, schedule_id = split(definition.schedule_id)
    session = None if definition.session_id is None else name(definition.session_id)
    local = {**dict(definition), "schedule_id": schedule_id, "session_id": session}
    if description is None:
        return ScheduleView(**local, tenant=tenant)
    info = description.info
    runs = [
        ScheduleRun(
            scheduled_at=action.scheduled_at,
            started_at=action.started_at,
            task_id=name(scheduled_task_id(action.action.workflow_id)),
        )
        for action in info.recent_actions
        if hasattr(action.action, "workflow_id")
    ]
    return ScheduleView(
        **local,
        paused=description.schedule.state.paused,
        recent_runs=runs,
        next_runs=list(info.next_action_times),
        runs=info.num_actions,
        skipped=info.num_actions_skipped_overlap,
        tenant=tenant,
    )


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp
