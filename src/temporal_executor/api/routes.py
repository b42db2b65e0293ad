"""The REST routes of DESIGN.md. Each is thin: parse, call `TaskService`, render.

What a route needs comes from `api` (`Api`, set on the app by `create_app`): the task service,
the request checks, and the few server settings routes use.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from ..config import DefaultAgent, Scope
from ..errors import TaskNotFoundError
from ..observability import TASKS_OPEN, TASKS_PARKED, exposition
from ..service import TaskService
from ..tasks import Event, TaskState, TaskStatus
from ..workflows import AnswerInput, ApproveInput, workflow_id
from .auth import Caller, CallerDep, requires
from .bodies import (
    A2AMessageBody,
    AnswerRequest,
    ApprovalPage,
    ApprovalRequest,
    ExecuteRequest,
    Session,
    TaskBody,
    TaskPage,
    TaskReadout,
    execute_request,
)
from .openapi import (
    BODY,
    Accepted,
    AnswerAccepted,
    ApprovalAccepted,
    CancelAccepted,
    Readiness,
    errors,
)
from .params import (
    After,
    LastEventId,
    Limit,
    Offset,
    SessionFilter,
    SessionIdPath,
    StatusFilter,
    TaskIdPath,
    WorkflowIdPath,
)
from .readiness import readiness
from .sse import sse_stream
from .submission import Submissions

__all__ = ["Api", "router"]

logger = logging.getLogger(__name__)
router = APIRouter()
WORKFLOW_PREFIX = "agent-execution-"


@dataclass(frozen=True)
class Api:
    """What the routes use. `ui_url`: the Temporal UI, when known; `namespace` is the
    workflows' there."""

    tasks: TaskService
    submissions: Submissions
    default_agent: DefaultAgent
    sse_heartbeat: float
    build_id: str
    ui_url: str | None = None
    namespace: str = "default"

    def ui_link(self, task_id: str) -> str | None:
        """The task's workflow in the Temporal UI (its latest run), when the UI is known."""
        if self.ui_url is None:
            return None
        namespace, workflow = quote(self.namespace, safe=""), quote(workflow_id(task_id), safe="")
        return f"{self.ui_url}/namespaces/{namespace}/workflows/{workflow}"

    def body(self, state: TaskState) -> TaskBody:
        return TaskBody(**dict(state), temporal_ui_url=self.ui_link(state.task_id))


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


Deps = Annotated[Api, Depends(_api)]


def _accepted(api: Api, state: TaskState) -> dict[str, Any]:
    return {
        "task_id": state.task_id,
        "workflow_id": workflow_id(state.task_id),
        "session_id": state.session_id,
        "status": state.status,
        "temporal_ui_url": api.ui_link(state.task_id),
    }


def _audit(caller: Caller | None, action: str, task_or_session: str) -> None:
    """Who did what, when auth is on (the key's name; never the key)."""
    if caller is not None:
        logger.info("%s %s by key %r", action, task_or_session, caller.name)


async def _execute(
    api: Api, body: ExecuteRequest, wait: bool, response: Response, caller: Caller | None
) -> Any:
    input = api.submissions.prepare(body)
    state = await api.tasks.submit(input, named=body.task_id is not None)
    _audit(caller, "task submitted:", state.task_id)
    if wait:
        response.status_code = 200
        return api.body(await api.tasks.wait(state.task_id, state))
    response.status_code = 202
    return _accepted(api, state)


@router.post(
    "/api/v1/execute",
    status_code=202,
    tags=["tasks"],
    dependencies=[requires(Scope.WRITE)],
    responses={
        202: {"model": Accepted, "description": "the task started (or exists already)"},
        200: {"model": TaskState, "description": "`wait=true`: the task, ended or paused"},
        **errors(400, 409, *BODY, 503),
    },
)
async def execute(
    body: ExecuteRequest,
    api: Deps,
    caller: CallerDep,
    response: Response,
    wait: Annotated[bool, Query(description="wait until the task ends or awaits approval")] = False,
) -> Any:
    """Start a task (or return the existing one with the same `task_id`)."""
    return await _execute(api, body, wait, response, caller)


@router.get(
    "/api/v1/tasks",
    response_model=TaskPage,
    tags=["tasks"],
    dependencies=[requires(Scope.READ)],
    responses=errors(422),
)
async def list_tasks(
    api: Deps,
    session_id: SessionFilter = None,
    status: StatusFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
    order: Annotated[
        Literal["oldest", "recent"],
        Query(description="oldest first (default), or the most recently updated first"),
    ] = "oldest",
) -> TaskPage:
    """Tasks, oldest first (or `order=recent`: last updated first), optionally of one session
    and/or in one status; paged."""
    statuses = None if status is None else [status]
    recent = order == "recent"
    tasks = await api.tasks.list_tasks(session_id, statuses, limit + 1, offset, recent_first=recent)
    more = len(tasks) > limit
    return TaskPage(tasks=tasks[:limit], next_offset=offset + limit if more else None)


@router.get(
    "/api/v1/approvals",
    response_model=ApprovalPage,
    tags=["approvals"],
    dependencies=[requires(Scope.READ)],
    responses=errors(422),
)
async def list_approvals(
    api: Deps,
    session_id: Annotated[str | None, Query(max_length=128)] = None,
    tool: Annotated[str | None, Query(max_length=128, description="tool name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ApprovalPage:
    """Every tool call waiting for a decision, across tasks, newest first; paged."""
    calls = await api.tasks.pending_calls(session_id, tool, limit + 1, offset)
    more = len(calls) > limit
    return ApprovalPage(approvals=calls[:limit], next_offset=offset + limit if more else None)


@router.get(
    "/api/v1/sessions/{session_id}",
    response_model=Session,
    tags=["sessions"],
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422),
)
async def get_session(session_id: SessionIdPath, api: Deps) -> Session:
    """The session's turns (its tasks), its transcript and its summed token usage."""
    tasks, messages, usage = await api.tasks.session(session_id)
    return Session(session_id=session_id, tasks=tasks, messages=messages, usage=usage)


@router.delete(
    "/api/v1/sessions/{session_id}",
    status_code=204,
    tags=["sessions"],
    dependencies=[requires(Scope.WRITE)],
    responses=errors(404, 409, 422, 503),
)
async def delete_session(session_id: SessionIdPath, api: Deps, caller: CallerDep) -> Response:
    """Delete the session's tasks, events and transcript (409 while a task runs)."""
    await api.tasks.delete_session(session_id)
    _audit(caller, "session deleted:", session_id)
    return Response(status_code=204)


@router.get(
    "/api/v1/tasks/{task_id}",
    response_model=TaskReadout,
    tags=["tasks"],
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422, 503),
)
async def get_task(task_id: TaskIdPath, api: Deps, response: Response) -> TaskReadout:
    """The task. While Temporal cannot be reached, a task that has not ended is answered from
    the event store with `"stale": true` (and the header `X-Task-Stale: true`): its last
    recorded state, which the workflow may already have moved past."""
    state, stale = await api.tasks.read(task_id)
    if stale:
        response.headers["X-Task-Stale"] = "true"
    return TaskReadout(**dict(api.body(state)), stale=stale)


@router.get(
    "/api/v1/tasks/{task_id}/events",
    tags=["tasks"],
    dependencies=[requires(Scope.READ)],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the task's events as Server-Sent Events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **errors(404, 422, 503),
    },
)
async def task_events(
    task_id: TaskIdPath,
    api: Deps,
    after: After = None,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    """Server-Sent Events: `id` is the seq, `event` the type; ends after the terminal event."""
    tasks = api.tasks
    state = await tasks.get(task_id)
    if after is None:
        after = int(last_event_id) if last_event_id else 0

    async def ended() -> bool:
        return (await tasks.get(task_id)).status.terminal

    # A task that has ended writes nothing more: its log past `after`, then the end (following
    # it, a resume past the terminal event would wait a heartbeat before closing).
    if state.status.terminal:
        events = _written(tasks, task_id, after)
    else:
        events = tasks.events(task_id, after)
    stream = sse_stream(events, heartbeat=api.sse_heartbeat, ended=ended)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _written(tasks: TaskService, task_id: str, after: int) -> AsyncIterator[Event]:
    """The task's events after `after` as the store has them, without following."""
    while found := await tasks.store.events.read(task_id, after):
        for event in found:
            yield event
        after = found[-1].seq


@router.post(
    "/api/v1/approve/{workflow_id}",
    tags=["tasks"],
    dependencies=[requires(Scope.APPROVE)],
    responses={200: {"model": ApprovalAccepted}, **errors(400, 404, 409, *BODY, 503)},
)
async def approve(
    workflow_id: WorkflowIdPath, body: ApprovalRequest, api: Deps, caller: CallerDep
) -> dict[str, Any]:
    """Approve or reject the tool calls the task is waiting on (409 when none is)."""
    if not workflow_id.startswith(WORKFLOW_PREFIX):
        raise TaskNotFoundError(f"no task with workflow id {workflow_id!r}")
    task_id = workflow_id.removeprefix(WORKFLOW_PREFIX)
    by = caller.name if caller is not None else None  # the audit's who: the key's name
    await api.tasks.approve(task_id, ApproveInput(decision=body, by=by))
    _audit(caller, "tool calls decided:", task_id)
    return {"task_id": task_id, "workflow_id": workflow_id, **body.model_dump(exclude_unset=True)}


@router.post(
    "/api/v1/tasks/{task_id}/answer",
    tags=["tasks"],
    dependencies=[requires(Scope.APPROVE)],
    responses={200: {"model": AnswerAccepted}, **errors(400, 404, 409, *BODY, 503)},
)
async def answer(
    task_id: TaskIdPath, body: AnswerRequest, api: Deps, caller: CallerDep
) -> dict[str, Any]:
    """Answer the questions the task asks (`ask_user`): 409 when none is pending, 400 when
    the answers do not fit them (one list per question)."""
    await api.tasks.answer(task_id, AnswerInput(answers=body.answers, id=body.id))
    _audit(caller, "questions answered:", task_id)
    return {"task_id": task_id, "workflow_id": workflow_id(task_id), **body.model_dump()}


@router.post(
    "/api/v1/tasks/{task_id}/cancel",
    status_code=202,
    tags=["tasks"],
    dependencies=[requires(Scope.WRITE)],
    responses={202: {"model": CancelAccepted}, **errors(404, 409, 422, 503)},
)
async def cancel(task_id: TaskIdPath, api: Deps, caller: CallerDep) -> dict[str, Any]:
    await api.tasks.cancel(task_id)
    _audit(caller, "task cancelled:", task_id)
    return {"task_id": task_id, "workflow_id": workflow_id(task_id), "cancel_requested": True}


@router.post(
    "/a2a/message",
    status_code=202,
    tags=["a2a"],
    dependencies=[requires(Scope.WRITE)],
    responses={
        202: {"model": Accepted, "description": "the task started (or exists already)"},
        200: {"model": TaskState, "description": "`wait=true`: the task, ended or paused"},
        **errors(400, 409, *BODY, 503),
    },
)
async def a2a_message(
    body: A2AMessageBody,
    api: Deps,
    caller: CallerDep,
    response: Response,
    wait: Annotated[bool, Query()] = False,
) -> Any:
    """The seed's simplified A2A body; same semantics as `/api/v1/execute`."""
    request = execute_request(
        api.default_agent,
        body.metadata,
        allowed=None,
        task_id=body.task_id,
        session_id=body.session_id,
        user_message="\n".join(part.text for part in body.content),
    )
    return await _execute(api, request, wait, response, caller)


@router.get("/healthz", tags=["probes"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["probes"],
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready: a check failed"}},
)
async def readyz(api: Deps, response: Response) -> dict[str, Any]:
    """Ready when Temporal answers and the store can be read."""
    response.status_code, body = await readiness(api.tasks, api.build_id)
    return body


@router.get(
    "/metrics",
    tags=["probes"],
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition (OpenMetrics when the Accept header asks)",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/openmetrics-text": {"schema": {"type": "string"}},
            },
        }
    },
)
async def metrics(request: Request, api: Deps) -> Response:
    """Prometheus metrics (see the README's Metrics section); the tasks that have not ended
    are counted in the store now."""
    try:
        parked = 0
        for status in TaskStatus:
            if not status.terminal:
                open_tasks = await api.tasks.count_tasks(statuses=[status])
                TASKS_OPEN.labels(status.value).set(open_tasks)
                parked += open_tasks if status.parked else 0
        TASKS_PARKED.set(parked)
    except Exception as exc:  # the rest is still worth serving
        logger.warning("metrics: cannot count open tasks: %s", exc)
    return exposition(request.headers.get("accept"))
