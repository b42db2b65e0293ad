"""The A2A `TaskStore` over our durable state: a task is read from `TenantTasks` (the
workflow's state, as the caller's tenant sees it) and its event log, folded by `TaskView`.
Nothing lives in this process, so a task started before an API restart reads the same after
it.

The workflow is the only writer of a task: `save` and `delete` are refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from a2a.helpers import new_text_part
from a2a.server.context import ServerCallContext
from a2a.server.tasks import TaskStore
from a2a.types import (
    ListTasksRequest,
    ListTasksResponse,
    Message,
    Role,
    Task,
    TaskState,
)
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError, UnsupportedOperationError
from a2a.utils.task import (
    apply_history_length,
    decode_page_token,
    encode_page_token,
    validate_history_length,
    validate_page_size,
)

from ...tasks import TaskStatus
from ...tenant_tasks import TenantTasks
from ..bodies import ID_PATTERN
from ..params import MAX_OFFSET
from .errors import a2a_errors
from .view import TERMINAL, Links, TaskView

__all__ = ["ServiceTaskStore", "check_task_id"]

# The A2A states a ListTasks filter asks for, in our stored statuses.
_STATUS_FILTER: dict[TaskState, list[TaskStatus]] = {
    TaskState.TASK_STATE_SUBMITTED: [TaskStatus.QUEUED],
    TaskState.TASK_STATE_WORKING: [TaskStatus.RUNNING],
    TaskState.TASK_STATE_INPUT_REQUIRED: [TaskStatus.AWAITING_APPROVAL, TaskStatus.AWAITING_INPUT],
    TaskState.TASK_STATE_COMPLETED: [TaskStatus.COMPLETED],
    TaskState.TASK_STATE_FAILED: [TaskStatus.FAILED],
    TaskState.TASK_STATE_CANCELED: [TaskStatus.CANCELLED],
}
_CLOSED: dict[TaskStatus, TaskState] = {
    TaskStatus.COMPLETED: TaskState.TASK_STATE_COMPLETED,
    TaskStatus.FAILED: TaskState.TASK_STATE_FAILED,
    TaskStatus.CANCELLED: TaskState.TASK_STATE_CANCELED,
}


class ServiceTaskStore(TaskStore):
    """One tenant's tasks (`TenantTasks`), in A2A form."""

    def __init__(self, service: TenantTasks, links: Links | None = None) -> None:
        self.service = service
        self.links = links or Links()

    def new_view(self, task_id: str, context_id: str, *, hitl: bool) -> TaskView:
        """A task that has no events yet, as A2A shows it (`submitted`)."""
        return TaskView(task_id, context_id, hitl=hitl, links=self.links)

    async def view(self, task_id: str, *, hitl: bool = False) -> TaskView:
        """The task as of its latest event; `TaskNotFoundError` (A2A) when there is none,
        `InvalidParamsError` for an id that no task can have."""
        check_task_id(task_id)
        with a2a_errors():
            state = await self.service.get(task_id)
            view = self.new_view(task_id, state.session_id, hitl=hitl)
            for event in await self.service.log(task_id):
                view.apply(event)
        if state.status.terminal and view.state not in TERMINAL:
            # Ended without its terminal event in the log yet (the workflow stores the final
            # state first), or at all (terminated from the Temporal UI): say how it ended.
            view.task.status.state = _CLOSED[state.status]
            view.task.status.timestamp.FromDatetime(datetime.now(UTC))
            if state.error is not None:
                text = f"{state.error.code}: {state.error.message}"
                view.task.status.message.CopyFrom(
                    Message(
                        message_id=f"{task_id}-error",
                        role=Role.ROLE_AGENT,
                        task_id=task_id,
                        context_id=state.session_id,
                        parts=[new_text_part(text)],
                    )
                )
        return view

    # --- the SDK's TaskStore ---------------------------------------------------------------

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        try:
            return (await self.view(task_id)).snapshot()
        except TaskNotFoundError:
            return None

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        """The last updated first (spec §3.1.4); `pageToken` is an offset; history only when
        `historyLength` is set, artifacts only with `includeArtifacts`."""
        validate_history_length(params)
        size = DEFAULT_LIST_TASKS_PAGE_SIZE
        if params.HasField("page_size"):
            validate_page_size(params.page_size)
            size = params.page_size
        offset = _offset(params.page_token)
        status: list[TaskStatus] | None = None
        if params.status != TaskState.TASK_STATE_UNSPECIFIED:
            status = _STATUS_FILTER.get(params.status)
            if status is None:  # a state our tasks are never in
                return ListTasksResponse(page_size=0, total_size=0)
        context_id = params.context_id or None
        with a2a_errors():
            if params.HasField("status_timestamp_after"):
                after = params.status_timestamp_after.ToDatetime(UTC)
                # Every task whose status changed after `after` has a workflow event (or a
                # save) after it; token deltas and the like do not change the status: sift.
                recent = await self.service.list_tasks(
                    context_id,
                    status,
                    _MAX_RECENT,
                    updated_after=after.timestamp(),
                    recent_first=True,
                )
                views = [(await self.view(s.state.task_id)).snapshot() for s in recent]
                matched = [t for t in views if t.status.timestamp.ToDatetime(UTC) > after]
                total, tasks = len(matched), matched[offset : offset + size]
            else:
                states = await self.service.list_tasks(
                    context_id, status, size, offset, recent_first=True
                )
                total = await self.service.count_tasks(context_id, status)
                tasks = [(await self.view(s.state.task_id)).snapshot() for s in states]
        more = offset + size < total
        return ListTasksResponse(
            tasks=[_trimmed(task, params) for task in tasks],
            page_size=len(tasks),
            total_size=total,
            next_page_token=encode_page_token(str(offset + size)) if more else "",
        )

    async def save(self, task: Task, context: ServerCallContext) -> None:
        raise UnsupportedOperationError("tasks are written by their workflow only")

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        raise UnsupportedOperationError("tasks are deleted with their session (REST API)")


# Tasks changed since a `statusTimestampAfter` that one ListTasks reads at most.
_MAX_RECENT = 10_000


def _offset(token: str) -> int:
    if not token:
        return 0
    decoded = decode_page_token(token[:64])
    if len(token) > 64 or not re.fullmatch(r"[0-9]{1,10}", decoded) or int(decoded) > MAX_OFFSET:
        raise InvalidParamsError("pageToken is not a token this server gave out")
    return int(decoded)


def check_task_id(task_id: str) -> None:
    """Refuse an id that no task can have (ours are `ID_PATTERN`), before it reaches Temporal
    or the store."""
    if not re.fullmatch(ID_PATTERN, task_id):
        shown = task_id if len(task_id) <= 64 else task_id[:64] + "…"
        raise InvalidParamsError(
            f"id {shown!r} is not a task id (1 to 128 letters, digits and . _ : @ -, "
            "starting with a letter or digit)"
        )


def _trimmed(task: Task, params: ListTasksRequest) -> Task:
    if not params.include_artifacts:
        task.ClearField("artifacts")
    if not params.HasField("history_length"):
        task.ClearField("history")
        return task
    return apply_history_length(task, params)
