"""Tasks as the API sees them: submit, read, approve, cancel — on top of Temporal and the
event store. The REST routes and the A2A server both go through here, so both behave alike."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from .config import Config
from .errors import ConflictError, RequestError, SessionNotFoundError, TaskNotFoundError
from .events import EventStore, TaskFilter
from .llm import ProviderRegistry
from .models import (
    AgentInput,
    ApprovalDecision,
    Event,
    EventType,
    ExecuteRequest,
    Session,
    TaskError,
    TaskState,
    TaskStatus,
    Usage,
)
from .payloads import resolve_messages
from .tools import ToolRegistry
from .workflows import AgentExecutionWorkflow, workflow_id

__all__ = ["TaskService"]

# Status of a workflow that closed without saving our final state (e.g. terminated in the UI).
_CLOSED_STATUS = {
    WorkflowExecutionStatus.FAILED: TaskStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: TaskStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED: TaskStatus.CANCELLED,
    WorkflowExecutionStatus.CANCELED: TaskStatus.CANCELLED,
    WorkflowExecutionStatus.COMPLETED: TaskStatus.COMPLETED,
}


class TaskService:
    def __init__(
        self,
        config: Config,
        client: Client,
        store: EventStore,
        providers: ProviderRegistry,
        tools: ToolRegistry,
    ) -> None:
        self.config = config
        self.client = client
        self.store = store
        self.providers = providers
        self.tools = tools

    # --- submit --------------------------------------------------------------------------

    def prepare(self, request: ExecuteRequest) -> AgentInput:
        """Validate a request against this server's config and resolve its defaults."""
        self.providers.check(request.model.provider, request.model.model)
        self.tools.validate(request.tools)
        executor = self.config.executor
        max_iterations = request.max_iterations or executor.max_iterations
        if max_iterations > executor.max_iterations:
            raise RequestError(
                f"max_iterations may be at most {executor.max_iterations} on this server",
                details={"max_iterations": max_iterations},
            )
        require_approval = request.require_approval
        if require_approval is None:
            require_approval = executor.require_approval
        task_id = request.task_id or uuid.uuid4().hex
        return AgentInput(
            task_id=task_id,
            session_id=request.session_id or task_id,
            user_message=request.user_message,
            user_message_id=request.message_id,
            system_message=request.system_message,
            model=request.model,
            tools=request.tools,
            max_iterations=max_iterations,
            require_approval=require_approval,
            expand_tools=self.tools.expands(request.tools),
            policies=executor.policies(),
        )

    async def submit(self, request: ExecuteRequest) -> TaskState:
        """Start the task's workflow, or return the existing task with that id.

        One task runs at a time in a session (its turns share one transcript): a second one
        is refused with `ConflictError` while the first has not ended."""
        input = self.prepare(request)
        if request.task_id and (existing := await self._existing(input.task_id)) is not None:
            return existing
        await self._claim_session(input.session_id, input.task_id)
        try:
            await self.client.start_workflow(
                AgentExecutionWorkflow.run,
                input,
                id=workflow_id(input.task_id),
                task_queue=self.config.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                execution_timeout=timedelta(seconds=input.policies.task_timeout * 1.1 + 60),
                static_summary=f"{input.model.provider}/{input.model.model}: "
                f"{input.user_message[:80]}",
            )
        except WorkflowAlreadyStartedError:
            pass
        return await self._existing(input.task_id) or TaskState(
            task_id=input.task_id, session_id=input.session_id
        )

    async def _claim_session(self, session_id: str, task_id: str) -> None:
        holder = await self.store.claim_session(session_id, task_id)
        if holder is None:
            return
        state = await self._existing(holder)
        if state is not None and not state.status.terminal:
            raise ConflictError(
                f"session {session_id!r} has a task that has not ended ({holder!r}, "
                f"{state.status.value}); a session runs one task at a time",
                details={"session_id": session_id, "task_id": holder},
            )
        # The holder ended without releasing the session (e.g. terminated from the UI).
        if await self.store.claim_session(session_id, task_id, replace=holder) is not None:
            raise ConflictError(f"session {session_id!r} was claimed by another task just now")

    async def _existing(self, task_id: str) -> TaskState | None:
        try:
            return await self.get(task_id)
        except TaskNotFoundError:
            return None

    # --- read ----------------------------------------------------------------------------

    async def get(self, task_id: str) -> TaskState:
        stored = await self.store.get_task(task_id)
        if stored is not None and stored.status.terminal:
            return stored
        handle = self._handle(task_id)
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND and stored is None:
                raise TaskNotFoundError(f"no task with id {task_id!r}") from None
            if exc.status == RPCStatusCode.NOT_FOUND and stored is not None:
                return stored
            raise
        status = description.status
        if status == WorkflowExecutionStatus.RUNNING:
            try:
                return await handle.query(AgentExecutionWorkflow.state_query)
            except RPCError:
                if stored is not None:
                    return stored
                raise
        # Closed without our final state (terminated, timed out): derive it from Temporal.
        state = stored or TaskState(task_id=task_id, session_id=task_id)
        closed = _CLOSED_STATUS.get(status, TaskStatus.FAILED) if status else TaskStatus.FAILED
        if state.status.terminal:
            return state
        if closed == TaskStatus.COMPLETED:
            final: TaskState = await handle.result()
            return final
        reason = (status.name if status else "unknown").lower()
        return state.model_copy(
            update={
                "status": closed,
                "pending_approval": None,
                "error": TaskError(code=f"workflow_{reason}", message=f"workflow {reason}"),
            }
        )

    async def list_tasks(
        self,
        session_id: str | None = None,
        status: TaskStatus | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        updated_after: float | None = None,
        recent_first: bool = False,
    ) -> list[TaskState]:
        """A page of the tasks that match: oldest first, or the last updated first."""
        where = _filter(session_id, status, updated_after)
        return await self.store.list_tasks(
            where, recent_first=recent_first, limit=limit, offset=offset
        )

    async def count_tasks(
        self,
        session_id: str | None = None,
        status: TaskStatus | None = None,
        *,
        updated_after: float | None = None,
    ) -> int:
        return await self.store.count_tasks(_filter(session_id, status, updated_after))

    async def session(self, session_id: str) -> Session:
        tasks = await self.store.list_tasks(TaskFilter(session_id=session_id), limit=1_000_000)
        if not tasks:
            raise SessionNotFoundError(f"no session with id {session_id!r}")
        usage = sum((t.usage for t in tasks), Usage())
        messages = await resolve_messages(self.store, await self.store.get_messages(session_id))
        return Session(session_id=session_id, tasks=tasks, messages=messages, usage=usage)

    async def delete_session(self, session_id: str) -> None:
        session = await self.session(session_id)
        for task in session.tasks:
            if not (await self.get(task.task_id)).status.terminal:
                raise ConflictError(
                    f"session {session_id!r} has a running task ({task.task_id!r}); cancel it first"
                )
        await self.store.delete_session(session_id)

    async def events(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """The task's events after `after`, live, ending with its terminal event. Callers
        check that the task exists first (a generator's check would come after a 200)."""
        async for event in self.store.follow(task_id, after):
            yield event
            if EventType(event.type).terminal:
                return

    async def wait(self, task_id: str) -> TaskState:
        """Wait until the task ends or stops for approval; return its state."""
        state = await self.get(task_id)
        if state.status != TaskStatus.RUNNING:
            return state
        async for event in self.events(task_id):
            # An earlier approval of this task is in the log too: only a pending one counts.
            if event.type == EventType.APPROVAL_REQUIRED:
                state = await self.get(task_id)
                if state.status == TaskStatus.AWAITING_APPROVAL:
                    return state
        return await self.get(task_id)

    # --- act -----------------------------------------------------------------------------

    async def approve(self, task_id: str, decision: ApprovalDecision) -> TaskState:
        handle = self._handle(task_id)
        try:
            return await handle.execute_update(AgentExecutionWorkflow.approve, decision)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            message = cause.message if isinstance(cause, FailureError) else str(exc)
            if isinstance(cause, ApplicationError) and cause.type == "InvalidDecision":
                raise RequestError(message) from None
            raise ConflictError(message) from None
        except RPCError as exc:
            await self._raise_not_found_or_closed(task_id, exc)
            raise

    async def cancel(self, task_id: str) -> TaskState:
        state = await self.get(task_id)
        if state.status.terminal:
            raise ConflictError(f"task {task_id!r} already ended {state.status.value}")
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
            if await self.store.get_task(task_id) is None:
                raise TaskNotFoundError(f"no task with id {task_id!r}") from None
            raise ConflictError(f"task {task_id!r} has already ended") from None
        if exc.status == RPCStatusCode.FAILED_PRECONDITION:
            raise ConflictError(f"task {task_id!r} has already ended") from None


def _filter(
    session_id: str | None, status: TaskStatus | None, updated_after: float | None
) -> TaskFilter:
    statuses = None if status is None else [status.value]
    return TaskFilter(session_id=session_id, statuses=statuses, updated_after=updated_after)
