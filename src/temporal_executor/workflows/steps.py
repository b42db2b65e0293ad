"""The workflow's side of `record`: what one step of the agent loop leaves behind.

A step queues its events (`publish`), each keyed by the workflow's own counter (`wf:N`), so a
replay or a retried write never publishes an event twice; `record` then writes them with the
task's state, and any transcript entries, in one local activity.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ..activities import EventRecord, RecordActivities, RecordInput
    from ..llm.messages import Message
    from ..policies import RECORD_RETRY, RECORD_TIMEOUT
    from ..store import WORKFLOW_KEY_PREFIX
    from ..tasks import EventType, TaskState

__all__ = ["Steps"]


class Steps:
    """The events queued by the current step of task `task_id`; `seq` is how many events the
    task has published (a run that continues as new carries it on)."""

    def __init__(self, task_id: str, session_id: str, seq: int = 0) -> None:
        self.task_id = task_id
        self.session_id = session_id
        self.seq = seq
        self._events: list[EventRecord] = []

    def publish(self, type: EventType, data: dict[str, Any], *, key: str | None = None) -> None:
        """Queue an event for the next `record` (under `key` when one is given)."""
        self.seq += 1
        self._events.append(
            EventRecord(key=key or f"{WORKFLOW_KEY_PREFIX}{self.seq}", type=type, data=data)
        )

    @property
    def queued(self) -> bool:
        """Whether events wait for the next `record`."""
        return bool(self._events)

    async def record(
        self,
        state: TaskState,
        *,
        first_index: int = 0,
        transcript: list[Message] | None = None,
        count_transcript: bool = False,
        seed: str | None = None,
        undo: bool = False,
    ) -> int:
        """Write the queued events with `state` (and `transcript` from `first_index`, or
        with `undo` the session's transcript cut back to this turn's start); the session's
        transcript length when `count_transcript` (before a fork's `seed`, which is written
        at that index)."""
        events, self._events = self._events, []
        count: int = await workflow.execute_local_activity_method(
            RecordActivities.record,
            RecordInput(
                task_id=self.task_id,
                session_id=self.session_id,
                state=state,
                events=events,
                first_index=first_index,
                transcript=transcript or [],
                count_transcript=count_transcript,
                seed=seed,
                truncate_transcript=undo,
            ),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        return count
