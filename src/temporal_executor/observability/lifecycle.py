"""Tasks starting and ending, as their events reach the store: counted, timed and logged
where each such event is appended once (`EventLog.append_all`), whichever process writes it.

Only new appends count (a retried write of the same event is not one), so a task is counted
once however often its steps are retried or replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from ..tasks import Event, EventType
from . import series

__all__ = ["observe_appended"]

logger = logging.getLogger("temporal_executor.tasks")


async def observe_appended(
    appended: Sequence[Event],
    seconds: float,
    first_event: Callable[[str], Awaitable[Event | None]],
) -> None:
    """Observe one append that wrote `appended` in `seconds`; `first_event(task_id)` reads
    the task's first event (its `task.started`, or `task.queued` for a task that waited
    for its turn: its duration counts from then, as its time limit does)."""
    series.APPEND_SECONDS.observe(seconds)
    for event in appended:
        if event.type == EventType.TASK_STARTED:
            series.TASKS_STARTED.inc()
            session_id = event.data.get("session_id")
            extra = {"task_id": event.task_id, "session_id": session_id}
            logger.info("task %s started", event.task_id, extra=extra)
        elif (status := event.ends_as) is not None:
            await _ended(event, status.value, first_event)


async def _ended(
    event: Event, status: str, first_event: Callable[[str], Awaitable[Event | None]]
) -> None:
    series.TASKS_ENDED.labels(status).inc()
    first = await first_event(event.task_id)
    duration = event.time - first.time if first is not None else None
    if duration is not None:
        series.TASK_SECONDS.labels(status).observe(duration)
    error = event.data.get("error") or {}
    logger.info(
        "task %s %s%s",
        event.task_id,
        status,
        f" ({error['code']})" if error.get("code") else "",
        extra={"task_id": event.task_id, "status": status, "duration_s": duration},
    )
