"""Sessions: a session's turns, transcript and usage; deleting a session and all of it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...config import Scope
from ..auth import CallerDep, requires
from ..bodies import Session, TaskView
from ..openapi import errors
from ..params import SessionIdPath
from .deps import TasksDep, audit

__all__ = ["router"]

router = APIRouter(tags=["sessions"])


@router.get(
    "/api/v1/sessions/{session_id}",
    response_model=Session,
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422),
)
async def get_session(session_id: SessionIdPath, tasks: TasksDep) -> Session:
    """The session's turns (its tasks), its transcript and its summed token usage."""
    turns, messages, usage = await tasks.session(session_id)
    views = [TaskView(**dict(turn)) for turn in turns]
    return Session(session_id=session_id, tasks=views, messages=messages, usage=usage.report())


@router.delete(
    "/api/v1/sessions/{session_id}",
    status_code=204,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(404, 409, 422, 503),
)
async def delete_session(session_id: SessionIdPath, tasks: TasksDep, caller: CallerDep) -> Response:
    """Delete the session's tasks, events and transcript (409 while a task runs)."""
    await tasks.delete_session(session_id)
    audit(caller, "session deleted:", tasks.key(session_id))
    return Response(status_code=204)
