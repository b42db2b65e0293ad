"""Our `AgentExecutor`: it translates, it does not run the agent.

A message becomes a workflow call: a new task starts `AgentExecutionWorkflow` (checked like
a REST request, with `a2a.default_agent` filling what the message does not say, then
`TaskService.submit`), an answer to an `input-required` task becomes its approval decision
(`TaskService.approve`) or its answers to the questions the model asked (`TaskService.answer`).
Then the executor relays the task's event log as A2A events. The LLM and the tools are
called by the workflow's activities on a worker, never here (STYLE rule 7), so the task runs
on when the caller goes away or this process restarts.
"""

from __future__ import annotations

import base64
import hashlib
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
    TaskNotFoundError,
    UnsupportedOperationError,
)
from google.protobuf.json_format import MessageToDict

from ...config import DefaultAgent
from ...errors import RequestError
from ...tenant_tasks import TenantTasks
from ...workflows import ApproveInput
from ..auth import caller_of
from ..bodies import MAX_PARTS, ExecuteRequest, bounded_metadata, execute_request
from ..submission import Submissions
from .errors import a2a_errors
from .hitl import answer_from, decision_from, hitl_requested
from .task_store import ServiceTaskStore
from .travel import TravelRequest, travel_request
from .view import INTERRUPTED, TERMINAL, TaskView, ends_stream

__all__ = ["TemporalAgentExecutor"]

# What the user's files show of themselves in the task's history (as `task.started` has them).
_DESCRIBED = {"media_type", "name", "url"}
ROOT_HEADER = "x-kagent-root-context-id"
# A2A's names of the execute fields a message sets.
_FIELD_NAMES = {
    "session_id": "contextId",
    "task_id": "taskId",
    "user_message": "message",
    "message_id": "message.messageId",
}


class TemporalAgentExecutor(AgentExecutor):
    """Starts or resumes a task's workflow and relays its events, in one tenant (`tasks`).

    Lifecycle, as the SDK's `AgentExecutor` contract has it: `execute` enqueues the task as
    it stood when the message arrived (`submitted` for a new one), then its events, and
    returns when the task ends or waits for input; `cancel` cancels the workflow and
    enqueues events up to its end. Errors are A2A errors (`a2a.utils.errors`)."""

    def __init__(
        self,
        tasks: TenantTasks,
        submissions: Submissions,
        default_agent: DefaultAgent,
        store: ServiceTaskStore,
    ) -> None:
        self.tasks = tasks
        self.submissions = submissions
        self.default_agent = default_agent
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

    async def run(
        self, context: RequestContext, current: TaskView | None = None
    ) -> AsyncGenerator[A2AEvent]:
        """`execute` as an iterator: the task as it stood, then its events up to the end of
        this turn (terminal, or waiting for input)."""
        view = await self.start(context, current)
        yield view.snapshot()
        async for event in self.turn(view):
            yield event

    async def start(self, context: RequestContext, current: TaskView | None = None) -> TaskView:
        """Start a new task (`context.current_task` is None) or resume the current one (as
        `current` shows it, when the caller has read it already); the view returned is the
        task as it stood before, so relaying from it shows the change."""
        message = context.message
        if message is None or context.task_id is None or context.context_id is None:
            raise InvalidParamsError("a message is required")
        hitl = hitl_requested(context.call_context)
        if context.current_task is not None:
            current = current or await self.store.view(context.task_id, hitl=hitl)
            if current.task.history and current.task.history[0].message_id == message.message_id:
                # The message that started this task, sent again: its replay.
                with a2a_errors():
                    await self._first_task(context, current.task.id)
                current.replay = True
                return current
            return await self._resume(current, message, _caller_name(context))
        metadata = {**_struct(message), **context.metadata}
        with a2a_errors():
            travel = travel_request(message, metadata, lambda: _user_text(message))
        if travel is not None:
            return await self._travel(context, travel, hitl=hitl)
        request = self._execute_request(message, context.task_id, context.context_id, context)
        with a2a_errors():
            submission = self.submissions.prepare(
                request, _caller_name(context), tenant=self.tasks.tenant, field="message.parts"
            ).updated(**_lineage(context))
            first = await self._first_task(context, submission.input.task_id)
            if first != submission.input.task_id:
                replayed = await self._replayed(first, hitl=hitl)
                if replayed is not None:
                    return replayed
                submission = submission.updated(task_id=first)
            input = submission.input
            # Made before the workflow starts: `submitted` is timestamped before `working`.
            view = self.store.new_view(input.task_id, context.context_id, hitl=hitl)
            files = [p.model_dump(include=_DESCRIBED) for _, p in request.media()]
            view.add_user_message(request.text(), request.message_id, files)
            concurrent = self.submissions.concurrent_messages(request)
            await self.tasks.submit(
                input, named=True, concurrent=concurrent, parts=submission.parts
            )
        return view

    async def _travel(
        self, context: RequestContext, travel: TravelRequest, *, hitl: bool
    ) -> TaskView:
        """Start the fork or re-run the message asks for (`travel.py`), as `start` starts a
        new task: once per message id."""
        message, task_id, context_id = context.message, context.task_id, context.context_id
        assert message is not None and task_id is not None and context_id is not None
        with a2a_errors():
            first = await self._first_task(context, task_id)
            if first != task_id and (replayed := await self._replayed(first, hitl=hitl)):
                return replayed
            view = self.store.new_view(first, context_id, hitl=hitl)
            text = _user_text(message, files=travel.fork is None)
            view.add_user_message(text, message.message_id or None)
            if travel.fork is None:
                await self.tasks.rerun(travel.parent, first, context_id, named=True)
            else:
                edits = await self.submissions.fork_edits(travel.fork, travel.parent, self.tasks)
                await self.tasks.fork(travel.parent, edits, first, context_id, named=True)
        return view

    async def turn(self, view: TaskView) -> AsyncGenerator[A2AEvent]:
        """The events of the task's turn after `view.seq`, up to its end (terminal, or
        waiting for input); `view` follows along. A replayed message whose turn is over has
        none."""
        if view.replay and view.state in TERMINAL | INTERRUPTED:
            return
        async for event in self.relay(view):
            yield event
            if ends_stream(event):
                return

    async def stop(self, task_id: str, *, hitl: bool) -> AsyncGenerator[A2AEvent]:
        """Cancel the task's workflow; its events up to `canceled` (or however it ended)."""
        view = await self.store.view(task_id, hitl=hitl)
        if view.state in TERMINAL:
            raise TaskNotCancelableError(f"task {task_id!r} has already ended")
        with a2a_errors(conflict=TaskNotCancelableError):
            await self.tasks.cancel(task_id)
        async for event in self.relay(view):
            yield event

    async def relay(self, view: TaskView) -> AsyncGenerator[A2AEvent]:
        """The A2A events of the task's log after `view.seq`, live, until its terminal
        event; `view` follows along."""
        with a2a_errors():
            async for event in self.tasks.events(view.task.id, view.seq):
                for translated in view.apply(event):
                    yield translated

    # --- translation ------------------------------------------------------------------------

    async def _first_task(self, context: RequestContext, task_id: str) -> str:
        """The task this message started in its context: `task_id` the first time it is
        seen, an earlier task for a replay (kagent's API-v2 gateway dedupes messages by id
        the same way; the same id with another request is refused: InvalidParams "message ID
        was already used with a different request"). A message without an id is always new."""
        message, context_id = context.message, context.context_id
        if message is None or not message.message_id or context_id is None:
            return task_id
        fingerprint = _fingerprint(message, context)
        return await self.tasks.first_task_of(context_id, message.message_id, task_id, fingerprint)

    async def _replayed(self, task_id: str, *, hitl: bool) -> TaskView | None:
        """The task a replayed message started, as it stands now; None when it never started
        (its first attempt was refused: this one starts it)."""
        try:
            view = await self.store.view(task_id, hitl=hitl)
        except TaskNotFoundError:
            return None
        view.replay = True
        return view

    async def _resume(self, view: TaskView, message: Message, by: str | None) -> TaskView:
        task_id, state = view.task.id, view.state
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
        if view.pending_input is not None:
            answers = answer_from(message, view.pending_input)
            with a2a_errors(conflict=InvalidParamsError):  # answered already, or stale
                await self.tasks.answer(task_id, answers)
            return view
        decision, said = decision_from(message, view.pending)
        answer = ApproveInput(
            decision=decision, message=said, message_id=message.message_id or None, by=by
        )
        with a2a_errors():
            await self.tasks.approve(task_id, answer)
        return view

    def _execute_request(
        self, message: Message, task_id: str, context_id: str, context: RequestContext
    ) -> ExecuteRequest:
        if message.role != Role.ROLE_USER:
            raise InvalidParamsError("a new task starts with a message of role ROLE_USER")
        try:
            return execute_request(
                self.default_agent,
                {**_struct(message), **context.metadata},
                field_names=lambda field: _FIELD_NAMES.get(field, f"metadata.{field}"),
                task_id=task_id,
                session_id=context_id,
                user_message=_user_parts(message),
                message_id=message.message_id or None,
            )
        except RequestError as exc:
            raise InvalidParamsError(exc.message) from None


def _fingerprint(message: Message, context: RequestContext) -> str:
    """What tells a message's replay from another request under the same message id: the
    message without its task id (a retry may come with another), and the request's
    metadata."""
    unassigned = Message()
    unassigned.CopyFrom(message)
    unassigned.task_id = ""
    digest = hashlib.sha256(unassigned.SerializeToString(deterministic=True))
    digest.update(json.dumps(context.metadata, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _struct(message: Message) -> dict[str, Any]:
    if not message.HasField("metadata"):
        return {}
    try:
        return bounded_metadata(MessageToDict(message.metadata))
    except ValueError as exc:
        raise InvalidParamsError(str(exc)) from None


def _user_parts(message: Message) -> list[dict[str, Any]]:
    """The message as the parts of an execute request: text parts, data parts as JSON text,
    files (bytes or URL) as images or files, which the request's checks take or refuse
    (an unknown or missing media type: ContentTypeNotSupportedError)."""
    if len(message.parts) > MAX_PARTS:
        raise InvalidParamsError(f"a message has at most {MAX_PARTS} parts")
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            parts.append({"type": "text", "text": part.text})
        elif kind == "data":
            text = json.dumps(MessageToDict(part.data), ensure_ascii=False)
            parts.append({"type": "text", "text": text})
        elif kind in ("url", "raw"):
            media_type = part.media_type.split(";")[0].strip().lower() or None
            if kind == "raw" and media_type is None:
                raise ContentTypeNotSupportedError("a file part without its mediaType")
            file: dict[str, Any] = {
                "type": "image" if (media_type or "").startswith("image/") else "file",
                "media_type": media_type,
                "name": part.filename or None,
            }
            if kind == "url":
                file["url"] = part.url
            else:
                file["data"] = base64.b64encode(part.raw).decode("ascii")
            parts.append(file)
    if not any(p["type"] != "text" or p["text"].strip() for p in parts):
        raise InvalidParamsError("the message has no content")
    return parts


def _user_text(message: Message, *, files: bool = False) -> str:
    """The text of a message that forks or re-runs a task (data parts as JSON). A fork's
    edited user message is text, so a file there is refused rather than dropped (`files`:
    left out instead, for a re-run, which sends its task's own message whatever this says)."""
    parts = _user_parts(message)
    if not files and any(p["type"] != "text" for p in parts):
        raise InvalidParamsError("a message that forks a task is text: it takes no files")
    return "\n".join(p["text"] for p in parts if p["type"] == "text")


def _lineage(context: RequestContext) -> dict[str, str]:
    """Who asked and the conversation at the top of a chain of agents, as kagent's headers
    say (`x-user-id`, `x-kagent-root-context-id`): the task passes them on to the agents it
    calls as tools."""
    state = context.call_context.state if context.call_context else {}
    headers = {str(k).lower(): v for k, v in (state.get("headers") or {}).items()}
    lineage = {"user_id": headers.get("x-user-id"), "root_context_id": headers.get(ROOT_HEADER)}
    return {key: str(value) for key, value in lineage.items() if isinstance(value, str) and value}


def _caller_name(context: RequestContext) -> str | None:
    """Who sends this message, for the audit of their decisions: the API key's name, else
    the user the A2A server authenticated (None: nobody is known)."""
    caller = caller_of(context.call_context)
    if caller is not None:
        return caller.name
    user = getattr(context.call_context, "user", None)
    if user is not None and user.is_authenticated and user.user_name:
        return str(user.user_name)
    return None
