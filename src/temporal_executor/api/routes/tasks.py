"""Tasks: submit one (`POST /api/v1/execute`), list them, read one, follow its events (SSE) and
cancel it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from ...config import Scope
from ...tasks import TaskState, workflow_id
from ...tenant_tasks import TenantTasks
from ..auth import Caller, CallerDep, requires
from ..bodies import ExecuteRequest, TaskBody, TaskPage, TaskReadout
from ..openapi import BODY, SSE_EVENT, Accepted, CancelAccepted, errors
from ..params import (
    After,
    LastEventId,
    Limit,
    Offset,
    SessionFilter,
    StatusFilter,
    TaskIdPath,
)
from ..sse import sse_stream
from .deps import Api, Deps, TasksDep, audit

__all__ = ["SUBMITTED", "accepted", "router", "submit"]

router = APIRouter(tags=["tasks"])

# What a submission answers (`/api/v1/execute`, and `/a2a/message`, which submits the same way).
SUBMITTED: dict[int | str, dict[str, Any]] = {
    202: {"model": Accepted, "description": "the task started (or exists already)"},
    200: {"model": TaskBody, "description": "`wait=true`: the task, ended or paused"},
    **errors(400, 404, 409, *BODY, 503),
}


async def submit(
    api: Api,
    tasks: TenantTasks,
    body: ExecuteRequest,
    wait: bool,
    response: Response,
    caller: Caller | None,
    parts: str = "user_message",
) -> Any:
    """Start the task `body` asks for, in the caller's tenant; with `wait`, answer once it
    ends or pauses. `parts`: where the request has the message's parts, for errors."""
    submissions = api.submissions
    name = caller.name if caller else None
    submission = submissions.prepare(body, name, tenant=tasks.tenant, field=parts)
    concurrent = submissions.concurrent_messages(body)
    named = body.task_id is not None
    state = await tasks.submit(
        submission.input, named=named, concurrent=concurrent, parts=submission.parts
    )
    audit(caller, "task submitted:", tasks.key(state.task_id))
    if wait:
        response.status_code = 200
        return api.body(await tasks.wait(state.task_id, state), tasks.tenant)
    response.status_code = 202
    return accepted(api, state, tasks.tenant)


def accepted(api: Api, state: TaskState, tenant: str) -> dict[str, Any]:
    """The 202 answer of `tenant`'s task that started (or exists)."""
    # `workflow_id` is the name the approve route takes (`agent-execution-<task id>`, in
    # the caller's tenant); `temporal_ui_url` links the workflow under its Temporal id.
    return {
        "task_id": state.task_id,
        "workflow_id": workflow_id(state.task_id),
        "session_id": state.session_id,
        "status": state.status,
        "temporal_ui_url": api.ui_link(state.task_id, tenant),
    }


@router.post(
    "/api/v1/execute",
    status_code=202,
    dependencies=[requires(Scope.WRITE)],
    responses=SUBMITTED,
)
async def execute(
    body: ExecuteRequest,
    api: Deps,
    tasks: TasksDep,
    caller: CallerDep,
    response: Response,
    wait: Annotated[bool, Query(description="wait until the task ends or awaits approval")] = False,
) -> Any:
    """Start a task (or return the existing one with the same `task_id`)."""
    return await submit(api, tasks, body, wait, response, caller)


@router.get(
    "/api/v1/tasks",
    response_model=TaskPage,
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422),
)
async def list_tasks(
    api: Deps,
    tasks: TasksDep,
    session_id: SessionFilter = None,
    status: StatusFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
    order: Annotated[
        Literal["oldest", "recent"],
        Query(description="oldest first (default), or the most recently updated first"),
    ] = "oldest",
) -> TaskPage:
    """The tenant's tasks (every tenant's, for an `admin` key without `X-Tenant`), oldest
    first (or `order=recent`: last updated first), optionally of one session and/or in one
    status; paged."""
    statuses = None if status is None else [status]
    recent = order == "recent"
    found = await tasks.list_tasks(session_id, statuses, limit + 1, offset, recent_first=recent)
    page = [api.body(task.state, task.tenant) for task in found[:limit]]
    return TaskPage(tasks=page, next_offset=offset + limit if len(found) > limit else None)


@router.get(
    "/api/v1/tasks/{task_id}",
    response_model=TaskReadout,
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422, 503),
)
async def get_task(
    task_id: TaskIdPath, api: Deps, tasks: TasksDep, response: Response
) -> TaskReadout:
    """The task, the task it was forked from (if it was) and its forks. While Temporal
    cannot be reached, a task that has not ended is answered from the event store with
    `"stale": true` (and the header `X-Task-Stale: true`): its last recorded state, which
    the workflow may already have moved past."""
    state, stale = await tasks.read(task_id)
    if stale:
        response.headers["X-Task-Stale"] = "true"
    forked_from, forks = await tasks.links(task_id)
    body = dict(api.body(state, tasks.tenant))
    return TaskReadout(**body, stale=stale, forked_from=forked_from, forks=forks)


@router.get(
    "/api/v1/tasks/{task_id}/events",
    dependencies=[requires(Scope.READ)],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the task's events as Server-Sent Events",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        },
        **errors(404, 422, 503),
    },
)
async def task_events(
    task_id: TaskIdPath,
    api: Deps,
    tasks: TasksDep,
    after: After = None,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    """Server-Sent Events: `id` is the seq, `event` the type; ends after the terminal event."""
    state = await tasks.get(task_id)
    if after is None:
        after = int(last_event_id) if last_event_id else 0

    async def ended() -> bool:
        return (await tasks.get(task_id)).status.terminal

    # A task that has ended writes nothing more: its log past `after`, then the end (following
    # it, a resume past the terminal event would wait a heartbeat before closing).
    if state.status.terminal:
        events = tasks.written(task_id, after)
    else:
        events = tasks.events(task_id, after)
    stream = sse_stream(events, heartbeat=api.sse_heartbeat, ended=ended)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


@router.post(
    "/api/v1/tasks/{task_id}/cancel",
    status_code=202,
    dependencies=[requires(Scope.WRITE)],
    responses={202: {"model": CancelAccepted}, **errors(404, 409, 422, 503)},
)
async def cancel(task_id: TaskIdPath, tasks: TasksDep, caller: CallerDep) -> dict[str, Any]:
    await tasks.cancel(task_id)
    audit(caller, "task cancelled:", tasks.key(task_id))
    return {"task_id": task_id, "workflow_id": workflow_id(task_id), "cancel_requested": True}
