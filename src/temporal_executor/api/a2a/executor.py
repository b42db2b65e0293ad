"""Our `AgentExecutor`: it translates, it does not run the agent.

A message becomes a workflow call: a new task starts `AgentExecutionWorkflow` (through
`TaskService.submit`, with `a2a.default_agent` filling what the message does not say), an
answer to an `input-required` task becomes its approval decision (`TaskService.approve`).
Then the executor relays the task's event log as A2A events. The LLM and the tools are
called by the workflow's activities on a worker, never here (STYLE rule 7), so the task runs
on when the caller goes away or this process restarts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import Event as A2AEvent
from a2a.server.events import EventQueue
from a2a.types import Message, Role, TaskState
from a2a.utils.errors import (
    ContentTypeNotSupportedError,
    InvalidParamsError,
    TaskNotCancelableError,
    UnsupportedOperationError,
)
from google.protobuf.json_format import MessageToDict
from pydantic import ValidationError

from ...models import ExecuteRequest
from ...service import TaskService
from .errors import a2a_errors
from .hitl import decision_from, hitl_requested
from .task_store import ServiceTaskStore
from .view import TERMINAL, TaskView, ends_stream

__all__ = ["OVERRIDES", "TemporalAgentExecutor"]

# Execute fields a message's (or the request's) metadata may set for a new task.
OVERRIDES = frozenset(
    {"system_message", "model_config", "tools", "max_iterations", "require_approval"}
)
_FIELD_NAMES = {
    "session_id": "contextId",
    "task_id": "taskId",
    "user_message": "message",
    "message_id": "message.messageId",
}


class TemporalAgentExecutor(AgentExecutor):
    """Starts or resumes a task's workflow and relays its events.

    Lifecycle, as the SDK's `AgentExecutor` contract has it: `execute` enqueues the task as
    it stood when the message arrived (`submitted` for a new one), then its events, and
    returns when the task ends or waits for input; `cancel` cancels the workflow and
    enqueues events up to its end. Errors are A2A errors (`a2a.utils.errors`)."""

    def __init__(self, service: TaskService, store: ServiceTaskStore) -> None:
        self.service = service
        self.store = store

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        async for event in self.run(context):
            await event_queue.enqueue_event(event)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        if context.task_id is None:
            raise InvalidParamsError("no task to cancel")
        async for event in self.stop(context.task_id, hitl=hitl_requested(context.call_context)):
            await event_queue.enqueue_event(event)

    # --- the work, as async iterators for request handlers --------------------------------

    async def run(self, context: RequestContext) -> AsyncGenerator[A2AEvent]:
        """`execute` as an iterator: the task as it stood, then its events up to the end of
        this turn (terminal, or waiting for input)."""
        view = await self.start(context)
        yield view.snapshot()
        async for event in self.relay(view):
            yield event
            if ends_stream(event):
                return

    async def start(self, context: RequestContext) -> TaskView:
        """Start a new task (`context.current_task` is None) or resume the current one; the
        view returned is the task as it stood before, so relaying from it shows the change."""
        message = context.message
        if message is None or context.task_id is None or context.context_id is None:
            raise InvalidParamsError("a message is required")
        hitl = hitl_requested(context.call_context)
        if context.current_task is not None:
            return await self._resume(context.task_id, message, hitl=hitl)
        request = self._execute_request(message, context.task_id, context.context_id, context)
        # Made before the workflow starts: `submitted` is timestamped before `working`.
        view = TaskView(context.task_id, context.context_id, hitl=hitl)
        view.add_user_message(request.user_message, request.message_id)
        with a2a_errors():
            await self.service.submit(request)
        return view

    async def stop(self, task_id: str, *, hitl: bool) -> AsyncGenerator[A2AEvent]:
        """Cancel the task's workflow; its events up to `canceled` (or however it ended)."""
        view = await self.store.view(task_id, hitl=hitl)
        if view.state in TERMINAL:
            raise TaskNotCancelableError(f"task {task_id!r} has already ended")
        with a2a_errors(conflict=TaskNotCancelableError):
            await self.service.cancel(task_id)
        async for event in self.relay(view):
            yield event

    async def relay(self, view: TaskView) -> AsyncGenerator[A2AEvent]:
        """The A2A events of the task's log after `view.seq`, live, until its terminal
        event; `view` follows along."""
        with a2a_errors():
            async for event in self.service.events(view.task.id, view.seq):
                for translated in view.apply(event):
                    yield translated

    # --- translation ------------------------------------------------------------------------

    async def _resume(self, task_id: str, message: Message, *, hitl: bool) -> TaskView:
        view = await self.store.view(task_id, hitl=hitl)
        state = view.state
        if state in TERMINAL:
            raise UnsupportedOperationError(
                f"task {task_id!r} has ended ({TaskState.Name(state)}) and takes no more "
                f"messages; send one with contextId {view.task.context_id!r} and no taskId to "
                "continue the conversation"
            )
        if state != TaskState.TASK_STATE_INPUT_REQUIRED:
            raise UnsupportedOperationError(
                f"task {task_id!r} is {TaskState.Name(state)}: it takes a message only while "
                "it waits for input (input-required)"
            )
        decision = decision_from(message, view.pending)
        decision.message_id = message.message_id or None
        with a2a_errors():
            await self.service.approve(task_id, decision)
        return view

    def _execute_request(
        self, message: Message, task_id: str, context_id: str, context: RequestContext
    ) -> ExecuteRequest:
        if message.role != Role.ROLE_USER:
            raise InvalidParamsError("a new task starts with a message of role ROLE_USER")
        default = self.service.config.a2a.default_agent
        fields: dict[str, Any] = {
            "system_message": default.system_message,
            "model_config": default.model,
            "tools": [t.model_dump() for t in default.tools],
            "require_approval": default.require_approval,
        }
        for metadata in (_struct(message), context.metadata):
            fields.update({k: v for k, v in metadata.items() if k in OVERRIDES})
        fields.update(
            task_id=task_id,
            session_id=context_id,
            user_message=_user_text(message),
            message_id=message.message_id or None,
        )
        if fields.get("model_config") is None:
            raise InvalidParamsError(
                "no model: set a2a.default_agent.model_config in the server config, or "
                "metadata.model_config in the request"
            )
        try:
            return ExecuteRequest.model_validate(fields)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            field = _FIELD_NAMES.get(field, f"metadata.{field}")
            raise InvalidParamsError(f"{field}: {error['msg']}") from None


def _struct(message: Message) -> dict[str, Any]:
    return MessageToDict(message.metadata) if message.HasField("metadata") else {}


def _user_text(message: Message) -> str:
    """The message as the LLM reads it: text parts, data parts as JSON, files by URL."""
    pieces: list[str] = []
    for part in message.parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            pieces.append(part.text)
        elif kind == "data":
            pieces.append(json.dumps(MessageToDict(part.data), ensure_ascii=False))
        elif kind == "url":
            name = f" {part.filename}" if part.filename else ""
            media = f" ({part.media_type})" if part.media_type else ""
            pieces.append(f"[file{name}{media}: {part.url}]")
        elif kind == "raw":
            raise ContentTypeNotSupportedError(
                f"inline file content ({part.media_type or 'unknown type'}) is not supported: "
                "send text, data, or a file URL"
            )
    text = "\n".join(pieces)
    if not text.strip():
        raise InvalidParamsError("the message has no content")
    return text
