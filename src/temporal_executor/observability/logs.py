"""Logging: `text` for people, `json` (one object per line) for log pipelines.

A JSON line has `time`, `level`, `logger`, `message`, and where known `task_id`,
`workflow_id`, `run_id`, `session_id`, `activity`, `attempt`, `trace_id`, `span_id`. They come
from Temporal's logger adapters (`workflow.logger`, `activity.logger` put their info on the
record), from the activity or workflow the record was written in (any logger, e.g. an SDK's),
from `bound(...)` fields, and from a record's `extra`. The Temporal core's own logs are
forwarded into the same handler (`core_target`, `core_fields`).

Nothing here adds a prompt, an answer or a key to a record: what our code logs at info names
tasks, models, tools and outcomes only.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from temporalio import activity, workflow

from ..tasks import task_id_of

__all__ = [
    "CORE_LOGGER",
    "JsonFormatter",
    "bind",
    "bound",
    "configure_logging",
    "json_enabled",
    "unbind",
]

CORE_LOGGER = "temporalio.core"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What every LogRecord has: anything else on a record came from `extra`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_TEMPORAL = frozenset({"temporal_workflow", "temporal_activity", "temporal_log"})
_FIELDS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_fields", default=None
)
_json = False


def bind(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Add `fields` (e.g. `session_id`) to every record written in this context from now,
    until `unbind` with the token returned."""
    return _FIELDS.set({**(_FIELDS.get() or {}), **fields})


def unbind(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _FIELDS.reset(token)


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """`bind` for the block."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def json_enabled() -> bool:
    return _json


def configure_logging(format: str = "text", level: str | int = "INFO") -> None:
    """One handler on the root logger (stderr), in `format`; the Temporal adapters stop
    appending their info to messages in `json` (it is in the object's keys)."""
    global _json
    _json = format == "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if _json else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in ("httpx", "httpcore"):  # a line per request
        logging.getLogger(noisy).setLevel(logging.WARNING)
    workflow.logger.workflow_info_on_message = not _json
    activity.logger.activity_info_on_message = not _json


class JsonFormatter(logging.Formatter):
    """A record as one JSON object (module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(_temporal_fields(record))
        out.update(_FIELDS.get() or {})
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _TEMPORAL:
                out[key] = value
        workflow_id = out.get("workflow_id")
        if "task_id" not in out and isinstance(workflow_id, str):
            if (task_id := task_id_of(workflow_id)) is not None:
                out["task_id"] = task_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            out["trace_id"] = format(span.trace_id, "032x")
            out["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def _temporal_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The workflow / activity a record was written in, or the core's own fields."""
    core = getattr(record, "temporal_log", None)
    if core is not None:
        return {"core_target": core.target, "core_fields": dict(core.fields or {})}
    details = getattr(record, "temporal_activity", None)
    if details is None and activity.in_activity():
        info = activity.info()
        details = {
            "workflow_id": info.workflow_id,
            "workflow_run_id": info.workflow_run_id,
            "activity_type": info.activity_type,
            "attempt": info.attempt,
        }
    if details is not None:
        return {
            "workflow_id": details.get("workflow_id"),
            "run_id": details.get("workflow_run_id"),
            "activity": details.get("activity_type"),
            "attempt": details.get("attempt"),
        }
    details = getattr(record, "temporal_workflow", None)
    if details is None and workflow.in_workflow():
        run = workflow.info()
        details = {"workflow_id": run.workflow_id, "run_id": run.run_id, "attempt": run.attempt}
    if details is not None:
        return {k: details.get(k) for k in ("workflow_id", "run_id", "attempt")}
    return {}
