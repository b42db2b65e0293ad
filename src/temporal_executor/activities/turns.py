"""`session_turn`: whether a queued task may start, the rules in `turns.py`.

It walks the session's queue from the task this one waits for: one that has ended without
having run passes its place on (its record still names the task it waited for); one that
runs (or waits in turn) is asked to `follow`, and the queued task waits for its `turn`
signal; one that ended after running means go. The answer is read from Temporal (is the
workflow open, did it take the follower) and the store (what the task recorded)."""

from __future__ import annotations

import time
from datetime import timedelta

from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from ..store import Store
from ..tasks import TaskState, TaskStatus, workflow_id
from ..turns import ENDED, FOLLOW, FollowInput
from ..versioned import Versioned

__all__ = ["Turn", "TurnActivities", "TurnInput"]

# A task the queue names but Temporal does not know: its workflow is being started (the API
# records a queued task just before starting it), unless its record is older than this, when
# it never will be (the API stopped in between) and counts as ended without having run.
NEVER_STARTED_AFTER = 60.0
MAX_QUEUE = 1000  # tasks walked past at most (a queue is one per message, never this long)
# How long `follow` may wait for the task ahead to take it (one of its workflow tasks must
# run: a busy or stopping worker may not run one soon). Past it, the queued task asks again
# at its next check rather than hold an activity slot.
FOLLOW_WAIT = timedelta(seconds=5)


class TurnInput(Versioned):
    """Task `task_id` of session `session_id`, queued behind `behind`."""

    task_id: str
    session_id: str
    behind: str


class Turn(Versioned):
    """`go`: the task may start now; else it waits for `behind`'s `turn` signal (`behind`
    may be further up the queue than the task it was queued behind)."""

    go: bool
    behind: str


class TurnActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="session_turn")
    async def session_turn(self, input: TurnInput) -> Turn:
        behind = input.behind
        for _ in range(MAX_QUEUE):
            record = await self.store.tasks.get(behind)
            state = await self._follow(behind, input.task_id)
            if state in ("following", "unknown"):
                return Turn(go=False, behind=behind)
            if state == "missing" and record is not None and not record.status.terminal:
                age = time.time() - (record.created_at or 0.0)
                if age < NEVER_STARTED_AFTER:
                    return Turn(go=False, behind=behind)  # starting: asked again later
            if record is None or not _never_ran(record):
                return Turn(go=True, behind=behind)
            assert record.queued_behind is not None
            behind = record.queued_behind
        return Turn(go=True, behind=behind)

    async def _follow(self, task_id: str, follower: str) -> str:
        """Ask `task_id` to signal `follower` when it ends: "following", "ended" (it has, or
        is ending), "missing" (Temporal has no such workflow) or "unknown" (no answer within
        `FOLLOW_WAIT`, or a worker that has no `follow`: the follower asks again later)."""
        handle = activity.client().get_workflow_handle(workflow_id(task_id))
        try:
            await handle.execute_update(
                FOLLOW, FollowInput(task_id=follower), rpc_timeout=FOLLOW_WAIT
            )
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            return "unknown"
        except WorkflowUpdateFailedError as exc:
            refused = exc.cause
            if isinstance(refused, ApplicationError) and refused.type == ENDED:
                return "ended"
            return "unknown"
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            try:
                await handle.describe()
            except RPCError as missing:
                if missing.status == RPCStatusCode.NOT_FOUND:
                    return "missing"
                raise
            return "ended"  # closed
        return "following"


def _never_ran(record: TaskState) -> bool:
    """Whether the task ended (or will never start) without having run: it still names the
    task it was queued behind."""
    return record.queued_behind is not None and (
        record.status.terminal or record.status == TaskStatus.QUEUED
    )
