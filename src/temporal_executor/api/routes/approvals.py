"""What people decide: the approvals inbox across tasks, deciding a task's tool calls, and
answering the questions a task asks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ...config import Scope
from ...errors import TaskNotFoundError
from ...tasks import task_id_of, workflow_id
from ...workflows import AnswerInput, ApproveInput
from ..auth import CallerDep, requires
from ..bodies import AnswerRequest, ApprovalPage, ApprovalRequest
from ..openapi import BODY, AnswerAccepted, ApprovalAccepted, errors
from ..params import TaskIdPath, WorkflowIdPath
from .deps import TasksDep, audit

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/api/v1/approvals",
    response_model=ApprovalPage,
    tags=["approvals"],
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422),
)
async def list_approvals(
    tasks: TasksDep,
    session_id: Annotated[str | None, Query(max_length=128)] = None,
    tool: Annotated[str | None, Query(max_length=128, description="tool name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ApprovalPage:
    """Every tool call waiting for a decision, across the tenant's tasks (every tenant's, for
    an `admin` key without `X-Tenant`), newest first; paged."""
    calls = await tasks.pending_calls(session_id, tool, limit + 1, offset)
    more = len(calls) > limit
    return ApprovalPage(approvals=calls[:limit], next_offset=offset + limit if more else None)


@router.post(
    "/api/v1/approve/{workflow_id}",
    tags=["tasks"],
    dependencies=[requires(Scope.APPROVE)],
    responses={200: {"model": ApprovalAccepted}, **errors(400, 404, 409, *BODY, 503)},
)
async def approve(
    workflow_id: WorkflowIdPath, body: ApprovalRequest, tasks: TasksDep, caller: CallerDep
) -> dict[str, Any]:
    """Approve or reject the tool calls the task is waiting on (409 when none is)."""
    task_id = task_id_of(workflow_id)
    if task_id is None:
        raise TaskNotFoundError(f"no task with workflow id {workflow_id!r}")
    by = caller.name if caller is not None else None  # the audit's who: the key's name
    await tasks.approve(task_id, ApproveInput(decision=body, by=by))
    audit(caller, "tool calls decided:", tasks.key(task_id))
    return {"task_id": task_id, "workflow_id": workflow_id, **body.model_dump(exclude_unset=True)}


@router.post(
    "/api/v1/tasks/{task_id}/answer",
    tags=["tasks"],
    dependencies=[requires(Scope.APPROVE)],
    responses={200: {"model": AnswerAccepted}, **errors(400, 404, 409, *BODY, 503)},
)
async def answer(
    task_id: TaskIdPath, body: AnswerRequest, tasks: TasksDep, caller: CallerDep
) -> dict[str, Any]:
    """Answer the questions the task asks (`ask_user`): 409 when none is pending, 400 when
    the answers do not fit them (one list per question)."""
    await tasks.answer(task_id, AnswerInput(answers=body.answers, id=body.id))
    audit(caller, "questions answered:", tasks.key(task_id))
    return {"task_id": task_id, "workflow_id": workflow_id(task_id), **body.model_dump()}
