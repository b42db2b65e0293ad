"""`POST /a2a/message`: the seed's simplified A2A body, submitted as `/api/v1/execute` would
submit it (the A2A protocol itself is `api/a2a/`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ...config import Scope
from ..auth import CallerDep, requires
from ..bodies import A2AMessageBody, execute_request
from .deps import Deps, TasksDep
from .tasks import SUBMITTED, submit

__all__ = ["router"]

router = APIRouter(tags=["a2a"])


@router.post(
    "/a2a/message",
    status_code=202,
    dependencies=[requires(Scope.WRITE)],
    responses=SUBMITTED,
)
async def a2a_message(
    body: A2AMessageBody,
    api: Deps,
    tasks: TasksDep,
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
        user_message=[part.model_dump(exclude_none=True) for part in body.content],
    )
    return await submit(api, tasks, request, wait, response, caller, parts="content")
