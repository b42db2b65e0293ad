"""Time travel: a task's steps, a fork from any of them, a re-run (`travel/`)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Body

from ...config import Scope
from ...tasks import TaskState, workflow_id
from ...travel import ForkRecord
from ..auth import CallerDep, requires
from ..bodies import ForkAccepted, ForkRequest, RerunRequest, TaskSteps
from ..openapi import BODY, errors
from ..params import TaskIdPath
from .deps import Deps, TasksDep, audit

__all__ = ["router"]

router = APIRouter(tags=["tasks"])


@router.get(
    "/api/v1/tasks/{task_id}/steps",
    response_model=TaskSteps,
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422, 503),
)
async def steps(task_id: TaskIdPath, tasks: TasksDep) -> TaskSteps:
    """The task's LLM calls and tool calls, numbered from 1 in the order they ran (a tool
    call after the LLM call that asked for it, in the LLM's order), with their inputs,
    outputs, model, and whether they may change something outside (`side_effects`). A
    fork's first steps are its parent's (`reused`). Read from the store, current while the
    task runs."""
    return TaskSteps(task_id=task_id, steps=await tasks.steps(task_id))


@router.post(
    "/api/v1/tasks/{task_id}/fork",
    status_code=202,
    response_model=ForkAccepted,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(400, 404, 409, *BODY, 503),
)
async def fork(
    task_id: TaskIdPath, body: ForkRequest, api: Deps, tasks: TasksDep, caller: CallerDep
) -> ForkAccepted:
    """A new task whose steps 1 … `at_step` - 1 are this task's, as recorded (their calls are
    not made again: `reused` lists them), and which runs step `at_step` onwards anew, with
    the edits: `user_message` is a user turn just before `at_step` (at step 1 it replaces the
    task's message), `tool_result_overrides` (`{call id: content}`) replace recorded results,
    `model_config` applies to the new calls. In a new session by default (`session_id`: name
    one; the task's own session continues after its turn)."""
    edits = await api.submissions.fork_edits(body, task_id, tasks)
    new_id = body.task_id or uuid.uuid4().hex
    named = body.task_id is not None
    state, record = await tasks.fork(task_id, edits, new_id, body.session_id, named=named)
    audit(caller, f"task forked from {tasks.key(task_id)}:", tasks.key(state.task_id))
    return _accepted(state, record)


@router.post(
    "/api/v1/tasks/{task_id}/rerun",
    status_code=202,
    response_model=ForkAccepted,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(400, 404, 409, *BODY, 503),
)
async def rerun(
    task_id: TaskIdPath,
    tasks: TasksDep,
    caller: CallerDep,
    body: RerunRequest | None = Body(default=None),  # noqa: B008 - FastAPI's way
) -> ForkAccepted:
    """The task's request again, as a new task (a fork at step 1 without edits), for a task
    that has ended: failed, cancelled or completed (409 while it has not)."""
    body = body or RerunRequest()
    new_id = body.task_id or uuid.uuid4().hex
    named = body.task_id is not None
    state, record = await tasks.rerun(task_id, new_id, body.session_id, named=named)
    audit(caller, f"task re-run of {tasks.key(task_id)}:", tasks.key(state.task_id))
    return _accepted(state, record)


def _accepted(state: TaskState, record: ForkRecord) -> ForkAccepted:
    data: dict[str, Any] = {
        "task_id": state.task_id,
        "workflow_id": workflow_id(state.task_id),
        "session_id": state.session_id,
        "status": state.status.value,
        "forked_from": record.origin,
        "reused": record.reused,
    }
    return ForkAccepted.model_validate(data)
