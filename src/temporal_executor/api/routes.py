"""The REST routes of DESIGN.md. Each is thin: parse, call `TaskService`, render."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from ..errors import RequestError, TaskNotFoundError
from ..models import (
    A2AMessageBody,
    ApprovalDecision,
    ApproveBody,
    ExecuteRequest,
    Session,
    TaskPage,
    TaskState,
    TaskStatus,
)
from ..service import TaskService
from ..workflows import workflow_id
from .sse import sse_stream

__all__ = ["router"]

router = APIRouter()
WORKFLOW_PREFIX = "agent-execution-"
READY_TIMEOUT = timedelta(seconds=3)


def _service(request: Request) -> TaskService:
    service: TaskService = request.app.state.service
    return service


def _accepted(state: TaskState) -> dict[str, Any]:
    return {
        "task_id": state.task_id,
        "workflow_id": workflow_id(state.task_id),
        "session_id": state.session_id,
        "status": state.status,
    }


async def _execute(
    service: TaskService, body: ExecuteRequest, wait: bool, response: Response
) -> Any:
    state = await service.submit(body)
    if wait:
        response.status_code = 200
        return await service.wait(state.task_id)
    response.status_code = 202
    return _accepted(state)


@router.post("/api/v1/execute", status_code=202, tags=["tasks"])
async def execute(
    body: ExecuteRequest,
    request: Request,
    response: Response,
    wait: Annotated[bool, Query(description="wait until the task ends or awaits approval")] = False,
) -> Any:
    """Start a task (or return the existing one with the same `task_id`)."""
    return await _execute(_service(request), body, wait, response)


@router.get("/api/v1/tasks", response_model=TaskPage, tags=["tasks"])
async def list_tasks(
    request: Request,
    session_id: Annotated[str | None, Query()] = None,
    status: Annotated[TaskStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TaskPage:
    """Tasks, oldest first, optionally of one session and/or in one status; paged."""
    tasks = await _service(request).list_tasks(session_id, status, limit + 1, offset)
    more = len(tasks) > limit
    return TaskPage(tasks=tasks[:limit], next_offset=offset + limit if more else None)


@router.get("/api/v1/sessions/{session_id}", response_model=Session, tags=["sessions"])
async def get_session(session_id: str, request: Request) -> Session:
    """The session's turns (its tasks), its transcript and its summed token usage."""
    return await _service(request).session(session_id)


@router.delete("/api/v1/sessions/{session_id}", status_code=204, tags=["sessions"])
async def delete_session(session_id: str, request: Request) -> Response:
    """Delete the session's tasks, events and transcript (409 while a task runs)."""
    await _service(request).delete_session(session_id)
    return Response(status_code=204)


@router.get("/api/v1/tasks/{task_id}", response_model=TaskState, tags=["tasks"])
async def get_task(task_id: str, request: Request) -> TaskState:
    return await _service(request).get(task_id)


@router.get("/api/v1/tasks/{task_id}/events", tags=["tasks"])
async def task_events(
    task_id: str,
    request: Request,
    after: Annotated[int | None, Query(ge=0, description="resume after this seq")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: `id` is the seq, `event` the type; ends after the terminal event."""
    service = _service(request)
    await service.get(task_id)
    if after is None:
        after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0

    async def ended() -> bool:
        return (await service.get(task_id)).status.terminal

    stream = sse_stream(
        service.events(task_id, after),
        heartbeat=service.config.server.sse_heartbeat,
        ended=ended,
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


@router.post("/api/v1/approve/{workflow_id}", tags=["tasks"])
async def approve(workflow_id: str, body: ApproveBody, request: Request) -> dict[str, Any]:
    """Approve or reject the tool calls the task is waiting on (409 when none is)."""
    if not workflow_id.startswith(WORKFLOW_PREFIX):
        raise TaskNotFoundError(f"no task with workflow id {workflow_id!r}")
    task_id = workflow_id.removeprefix(WORKFLOW_PREFIX)
    decision = ApprovalDecision.model_validate(body.model_dump())
    await _service(request).approve(task_id, decision)
    return {"task_id": task_id, "workflow_id": workflow_id, **body.model_dump(exclude_unset=True)}


@router.post("/api/v1/tasks/{task_id}/cancel", status_code=202, tags=["tasks"])
async def cancel(task_id: str, request: Request) -> dict[str, Any]:
    await _service(request).cancel(task_id)
    return {"task_id": task_id, "workflow_id": workflow_id(task_id), "cancel_requested": True}


@router.post("/a2a/message", status_code=202, tags=["a2a"])
async def a2a_message(
    body: A2AMessageBody,
    request: Request,
    response: Response,
    wait: Annotated[bool, Query()] = False,
) -> Any:
    """The seed's simplified A2A body; same semantics as `/api/v1/execute`."""
    service = _service(request)
    default = service.config.a2a.default_agent
    fields: dict[str, Any] = {
        "system_message": default.system_message,
        "model_config": default.model,
        "tools": [t.model_dump() for t in default.tools],
        "require_approval": default.require_approval,
    }
    fields.update(body.metadata)
    fields.update(
        task_id=body.task_id,
        session_id=body.session_id,
        user_message="\n".join(part.text for part in body.content),
    )
    if fields.get("model_config") is None:
        raise RequestError("metadata.model_config is required (no a2a.default_agent configured)")
    try:
        execute_request = ExecuteRequest.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise RequestError(f"metadata.{field}: {error['msg']}") from None
    return await _execute(service, execute_request, wait, response)


@router.get("/healthz", tags=["probes"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["probes"])
async def readyz(request: Request, response: Response) -> dict[str, Any]:
    """Ready when Temporal answers and the event store can be read."""
    service = _service(request)
    checks: dict[str, str] = {}
    try:
        await service.client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=READY_TIMEOUT
        )
        checks["temporal"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["temporal"] = f"error: {exc}"
    try:
        await service.store.read("readyz-probe", 0, 1)
        checks["events"] = "ok"
    except Exception as exc:
        checks["events"] = f"error: {exc}"
    ready = all(v == "ok" for v in checks.values())
    response.status_code = 200 if ready else 503
    return {"status": "ready" if ready else "not ready", "checks": checks}
