"""Tasks as the API sees them: start, read, follow, approve, cancel — on top of Temporal and
the store. The REST routes and the A2A server both go through here, so both behave alike.

Ids here are keys (`tenants.py`: a task's id with its tenant, as Temporal and the store know
it); `tenant_tasks.py` shows the service to one caller, in the ids of its tenant.

Where a task's state comes from: its workflow records it at every step (`record`), so the
stored record is current. Temporal is asked only whether a task whose record has not ended is
still running: a workflow terminated from the Temporal UI, or timed out, never recorded its
end, and its state is then derived from how it closed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from .config import ConcurrentMessages
from .errors import (
    ConflictError,
    RequestError,
    SessionNotFoundError,
    TaskNotFoundError,
    TaskUnavailableError,
    failure_message,
    from_failure,
)
from .llm.messages import Message, Usage
from .payloads import resolve_messages
from .sessions import SessionGate, submitted
from .spec import ToolSpec
from .store import Store, TaskFilter
from .tasks import SESSION_MEMO, Event, EventType, PendingCall, TaskError, TaskState, TaskStatus
from .tenants import name
from .travel import TimeTravel
from .turns import StopInput
from .uploads import PendingParts
from .workflows import AgentExecutionWorkflow, AgentInput, AnswerInput, ApproveInput, workflow_id
from .workflows.human import HumanSteps

__all__ = ["TaskService"]

In = TypeVar("In")

# How long a read waits for Temporal before answering from the store, marked stale.
STALE_AFTER = timedelta(seconds=2)
# Statuses of a Temporal call that mean "not reachable now", not "no such workflow".
_UNREACHABLE = (
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.UNKNOWN,
)

# Status of a workflow that closed without recording its end (e.g. terminated in the UI).
_CLOSED_STATUS = {
    WorkflowExecutionStatus.FAILED: TaskStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: TaskStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED: TaskStatus.CANCELLED,
    WorkflowExecutionStatus.CANCELED: TaskStatus.CANCELLED,
    WorkflowExecutionStatus.COMPLETED: TaskStatus.COMPLETED,
}


class TaskService:
    """Tasks on the task queue `task_queue` of `client`, with their records in `store`;
    `side_effects` says whether a tool spec's calls may change something outside (the tool
    registry's word; without one, the spec's `read_only`)."""

    def __init__(
        self,
        client: Client,
        store: Store,
        task_queue: str,
        side_effects: Callable[[ToolSpec], bool] | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.task_queue = task_queue
        self.sessions = SessionGate(client, store, self._existing)
        self.draining = False
        # Steps, forks and re-runs (`travel/`): the routes reach them through here too.
        self.travel = TimeTravel(self, side_effects or (lambda spec: not spec.read_only))

    def drain(self) -> None:
        """This process is shutting down: every live event stream ends (its clients resume
        elsewhere), and `ready()` says so."""
        self.draining = True
        self.store.events.stop_following()

    # --- start ---------------------------------------------------------------------------

    async def submit(
        self,
        input: AgentInput,
        *,
        named: bool,
        concurrent: ConcurrentMessages = "reject",
        parts: PendingParts | None = None,
    ) -> TaskState:
        """Start the task's workflow; a task id the caller `named` that exists already is
        that task, returned as it stands (never a second run). `parts`: the user message's
        images and files, fetched (when given by URL) and stored before the workflow starts.

        One task runs at a time in a session (its turns share one transcript). While one
        has not ended, a new one is, by `concurrent`: refused with `ConflictError`
        (`reject`), or queued behind the session's last task (`enqueue`), which is stopped
        first with the tasks ahead of it (`interrupt`, `rollback`; `turns.py`)."""
        if named and await self.store.tasks.get(input.task_id) is not None:
            return await self.get(input.task_id)
        if parts is not None:
            input = input.model_copy(update={"user_parts": await parts.load(input.task_id)})
        ahead, approved = await self.sessions.enter(input, concurrent)
        if ahead is not None:
            input = input.model_copy(update={"queued_behind": ahead})
        if approved:
            input = input.model_copy(update={"approved_tools": approved})
        if parts is not None:
            await parts.keep(self.store.blobs)
        await self.travel.keep_input(input)
        try:
            # FAIL: a running workflow of this id is answered as it stands (below), so a start
            # that returns is new and needs no read back (one describe fewer per A2A message).
            await self.client.start_workflow(
                AgentExecutionWorkflow.run,
                input,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                **input.start_options(),
            )
        except WorkflowAlreadyStartedError:
            return await self.get(input.task_id)
        if ahead is not None and concurrent in ("interrupt", "rollback"):
            await self.sessions.stop_ahead(ahead, StopInput(mode=concurrent, by=input.task_id))
        return submitted(input)

    async def first_task_of(
        self, session_id: str, message_id: str, task_id: str, fingerprint: str
    ) -> str:
        """The task that the message `message_id` of the session started: `task_id` the
        first time that message is seen, the same task for its replays (a client or gateway
        sending it again), and a `RequestError` when the id comes back with another request
        (`fingerprint` tells them apart). The task may not exist yet, if the first attempt
        was refused (a busy session, say): then starting it is the caller's to do."""
        # Kept under a key no task id can start with ('~'): a session's deletion removes
        # its tasks' blobs, and must not remove these with them by accident.
        key = f"~messages/{session_id}/{message_id}"
        claim = json.dumps({"task_id": task_id, "fingerprint": fingerprint})
        first = json.loads(await self.store.blobs.put_new(key, claim))
        if first["fingerprint"] != fingerprint:
            raise RequestError(
                f"message ID {message_id!r} was already used with a different request",
                details={"message_id": message_id, "task_id": name(first["task_id"])},
            )
        return str(first["task_id"])

    async def admit(self, task_id: str, session_id: str) -> list[str]:
        """Let a task that is about to start into its session (`SessionGate.admit`)."""
        return await self.sessions.admit(task_id, session_id)

    async def _existing(self, task_id: str) -> TaskState | None:
        try:
            return await self.get(task_id)
        except TaskNotFoundError:
            return None

    # --- read ----------------------------------------------------------------------------

    async def get(self, task_id: str) -> TaskState:
        state, _ = await self._read(task_id, stale_ok=False)
        return state

    async def read(self, task_id: str) -> tuple[TaskState, bool]:
        """As `get`, but while Temporal cannot be reached a task with a record is answered
        from the store: that record, and True for "stale" (it may be behind what the
        workflow has done, which nobody can tell until Temporal is back)."""
        return await self._read(task_id, stale_ok=True)

    async def _read(self, task_id: str, *, stale_ok: bool) -> tuple[TaskState, bool]:
        stored = await self.store.tasks.get(task_id)
        if stored is not None and stored.status.terminal:
            return stored, False
        try:
            timeout = STALE_AFTER if stale_ok and stored is not None else None
            description = await self._handle(task_id).describe(rpc_timeout=timeout)
        except RPCError as exc:
            if stale_ok and stored is not None and exc.status in _UNREACHABLE:
                return stored, True
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            if stored is None:
                raise TaskNotFoundError(f"no task with id {name(task_id)!r}") from None
            return stored, False  # gone from Temporal (retention): the record is all there is
        if description.status == WorkflowExecutionStatus.RUNNING:
            if stored is not None:
                return stored, False
            session = await _session(description, task_id)
            return TaskState(task_id=task_id, session_id=session), False
        return await self._closed(task_id, description, stored), False

    async def _closed(
        self, task_id: str, description: WorkflowExecutionDescription, stored: TaskState | None
    ) -> TaskState:
        """A workflow that closed without recording its end: its state from how it closed."""
        status = description.status
        closed = _CLOSED_STATUS.get(status, TaskStatus.FAILED) if status else TaskStatus.FAILED
        if closed == TaskStatus.COMPLETED:
            final: TaskState = await self._handle(task_id).result()
            return final
        state = stored or TaskState(
            task_id=task_id, session_id=await _session(description, task_id)
        )
        reason = (status.name if status else "unknown").lower()
        return state.model_copy(
            update={
                "status": closed,
                "pending_approval": None,
                "pending_input": None,
                "error": TaskError(code=f"workflow_{reason}", message=f"workflow {reason}"),
            }
        )

    async def list_tasks(
        self,
        where: TaskFilter | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        recent_first: bool = False,
    ) -> list[TaskState]:
        """A page of the tasks that match: oldest first, or the last updated first."""
        return await self.store.tasks.find(
            where, recent_first=recent_first, limit=limit, offset=offset
        )

    async def count_tasks(self, where: TaskFilter | None = None) -> int:
        return await self.store.tasks.count(where)

    async def capacity_waiting(self) -> dict[str, int]:
        """How many calls wait for capacity now, by shared limit (in the store)."""
        return await self.store.limiter.waiting()

    async def pending_calls(
        self,
        where: TaskFilter | None = None,
        tool: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[PendingCall]:
        """A page of the tool calls waiting for a decision in the tasks `where` names, newest
        first (from the store's records of parked tasks; Temporal is not asked)."""
        where = replace(where or TaskFilter(), statuses=[TaskStatus.AWAITING_APPROVAL.value])
        parked = await self.store.tasks.find(where, limit=1_000_000)
        calls = [c for t in parked for c in t.pending_calls() if tool in (None, c.tool_name)]
        calls.sort(key=lambda c: (-(c.requested_at or 0.0), c.task_id, c.tool_call_id))
        return calls[offset : offset + limit]

    async def session(self, session_id: str) -> tuple[list[TaskState], list[Message], Usage]:
        """The session's tasks (its turns), its whole transcript and its summed usage."""
        tasks = await self.store.tasks.find(TaskFilter(session_id=session_id), limit=1_000_000)
        if not tasks:
            raise SessionNotFoundError(f"no session with id {name(session_id)!r}")
        usage = sum((t.usage for t in tasks), Usage())
        stored = await self.store.transcripts.get(session_id)
        return tasks, await resolve_messages(self.store.blobs, stored), usage

    async def delete_session(self, session_id: str) -> None:
        tasks, _, _ = await self.session(session_id)
        for task in tasks:
            if not (await self.get(task.task_id)).status.terminal:
                raise ConflictError(
                    f"session {name(session_id)!r} has a running task "
                    f"({name(task.task_id)!r}); cancel it first"
                )
        await self.store.sessions.delete(session_id)

    async def events(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """The task's events after `after`, live, ending with its terminal event. Callers
        check that the task exists first (a generator's check would come after a 200)."""
        async for event in self.store.events.follow(task_id, after):
            yield event
            if event.terminal:
                return

    async def written(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """The task's events after `after` as the store has them, without following."""
        while found := await self.store.events.read(task_id, after):
            for event in found:
                yield event
            after = found[-1].seq

    async def log(self, task_id: str, batch: int = 1000) -> list[Event]:
        """The task's whole event log as it stands."""
        events: list[Event] = []
        while found := await self.store.events.read(task_id, len(events), batch):
            events += found
            if len(found) < batch:
                break
        return events

    async def wait(self, task_id: str, state: TaskState | None = None) -> TaskState:
        """Wait until the task ends or parks for a person (approval, questions); return its
        state (`state`: how it stands now, when the caller knows, as just after starting)."""
        state = state or await self.get(task_id)
        if state.status not in (TaskStatus.RUNNING, TaskStatus.QUEUED):
            return state
        async for event in self.events(task_id):
            # Earlier pauses of this task are in the log too: only a pending one counts.
            if event.type in (EventType.APPROVAL_REQUIRED, EventType.INPUT_REQUIRED):
                state = await self.get(task_id)
                if state.status.parked:
                    return state
        return await self.get(task_id)

    # --- act -----------------------------------------------------------------------------

    async def approve(self, task_id: str, decision: ApproveInput) -> TaskState:
        """Decide on the task's pending tool calls: `ConflictError` when none is pending,
        `RequestError` when the decision does not fit them."""
        return await self._update(task_id, AgentExecutionWorkflow.approve, decision)

    async def answer(self, task_id: str, answer: AnswerInput) -> TaskState:
        """Answer the task's pending questions: `ConflictError` when none is pending (or
        the answer names other questions), `RequestError` when it does not fit them."""
        return await self._update(task_id, AgentExecutionWorkflow.answer, answer)

    async def _update(
        self,
        task_id: str,
        update: UpdateMethodMultiParam[[HumanSteps, In], TaskState],
        argument: In,
    ) -> TaskState:
        try:
            return await self._handle(task_id).execute_update(update, argument)
        except WorkflowUpdateFailedError as exc:
            raise from_failure(exc.cause) or ConflictError(failure_message(exc)) from None
        except RPCError as exc:
            await self._raise_not_found_or_closed(task_id, exc)
            raise

    async def cancel(self, task_id: str) -> TaskState:
        state = await self.get(task_id)
        if state.status.terminal:
            raise ConflictError(f"task {name(task_id)!r} already ended {state.status.value}")
        try:
            await self._handle(task_id).cancel()
        except RPCError as exc:
            await self._raise_not_found_or_closed(task_id, exc)
            raise
        return state

    def _handle(self, task_id: str) -> WorkflowHandle[AgentExecutionWorkflow, TaskState]:
        return self.client.get_workflow_handle_for(AgentExecutionWorkflow.run, workflow_id(task_id))

    async def _raise_not_found_or_closed(self, task_id: str, exc: RPCError) -> None:
        if exc.status == RPCStatusCode.NOT_FOUND:
            if await self.store.tasks.get(task_id) is None:
                raise TaskNotFoundError(f"no task with id {name(task_id)!r}") from None
            raise ConflictError(f"task {name(task_id)!r} has already ended") from None
        if exc.status == RPCStatusCode.FAILED_PRECONDITION:
            # Temporal says so of a closed workflow, and of a running one whose workflow task
            # is failing ("Workflow Task in failed state"): which one, the workflow tells.
            description = await self._handle(task_id).describe()
            if description.status == WorkflowExecutionStatus.RUNNING:
                raise TaskUnavailableError(
                    f"the workflow of task {name(task_id)!r} cannot make progress right now: "
                    "its workflow task is failing; see the worker's logs"
                ) from None
            raise ConflictError(f"task {name(task_id)!r} has already ended") from None


async def _session(description: WorkflowExecutionDescription, task_id: str) -> str:
    """The task's session, from its workflow's memo (set at start)."""
    return str(await description.memo_value(SESSION_MEMO, task_id))
