"""A task's event log seen as an A2A task: one fold, used for every answer.

`TaskView.apply(event)` updates the A2A `Task` (status, history, the answer artifact) and
returns the A2A events that event stands for, so that a snapshot at seq N followed by the
events after N is exactly what a client that watched from the start has seen. That gives
exact resubscription, and GetTask, ListTasks, streams and push notifications agree.

| our event           | A2A                                                                |
|---------------------|--------------------------------------------------------------------|
| (none yet)          | Task `submitted`                                                   |
| `task.queued`       | status `submitted` + "queued behind task …" (its context's task)   |
| `task.started`      | status `working` (the user's message, with its files, in history) |
| `llm.delta`         | artifact `answer`: the text, `append` after the call's first delta |
| `llm.restart`       | artifact `answer` replaced by "" (the retried call starts over)    |
| `llm.message`       | history; with tool calls also status `working` + that message      |
| `tool.result`       | history; status `working` + the result                             |
| `artifact.created`  | an artifact of its own: a FilePart (bytes when the event has them, |
|                     | else the tool's link or our download URL) or a DataPart            |
| `tool.progress`     | (none: another agent's text as it works, for the SSE and the console) |
| `approval.required` | status `input-required` + the pending calls (see `hitl.py`)        |
| `approval.decided`  | history (the user's decision); status `working`                    |
| `input.required`    | status `input-required` + the questions (`ask_user`, see `hitl.py`) |
| `input.answered`    | history (the user's answers); status `working`                     |
| `task.completed`    | artifact `answer` = the final answer, `lastChunk`; status `completed` |
| `task.failed`       | status `failed` + the error                                        |
| `task.cancelled`    | status `canceled` (+ why, when a new message stopped it)           |

A new LLM call's first delta replaces the answer (`append: false`): the artifact holds the
text the agent is writing now, and the final answer once the task completed. The answer stays
the last artifact: those a task makes (a tool's files, a structured answer's data) come before
it, in the order they were made. Files without their bytes in the log are links to the REST
routes that serve them (`Links`), as the user's own files are in the history.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from a2a.helpers import new_data_part, new_raw_part, new_text_part, new_url_part
from a2a.server.events import Event as A2AEvent
from a2a.types import (
    Artifact,
    Message,
    Part,
    Role,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)

from ...llm.messages import ToolCall
from ...tasks import Event, NestedApproval, PendingInput, workflow_id
from ...tools.agent_turn import ENDED, WAITING
from .pause import approval_pause, pause_message, question_pause

__all__ = ["INTERRUPTED", "TERMINAL", "Links", "TaskView", "ends_stream"]

# A2A's states that end a task, and those in which it waits (as an agent we call shows them).
TERMINAL, INTERRUPTED = ENDED, WAITING


@dataclass(frozen=True)
class Links:
    """Where a client downloads a task's files: this server's REST routes under `base` (its
    public URL; "" gives paths)."""

    base: str = ""

    def artifact(self, task_id: str, artifact_id: str) -> str:
        return f"{self.base}/api/v1/tasks/{quote(task_id)}/artifacts/{quote(artifact_id)}"

    def input(self, task_id: str, index: int) -> str:
        return f"{self.base}/api/v1/tasks/{quote(task_id)}/inputs/{index}"


def ends_stream(event: A2AEvent) -> bool:
    """A stream segment ends when the task ends or waits for input."""
    return isinstance(event, TaskStatusUpdateEvent | Task) and (
        event.status.state in TERMINAL | INTERRUPTED
    )


class TaskView:
    """The A2A form of one task, as of event `seq`; `hitl` renders approval requests with
    kagent's extension (for clients that asked for it); `replay`: the answer to a message
    that had started this task already (sent again), not a new turn."""

    def __init__(
        self, task_id: str, context_id: str, *, hitl: bool, links: Links | None = None
    ) -> None:
        self.task = Task(id=task_id, context_id=context_id)
        self.links = links or Links()
        self.task.status.state = TaskState.TASK_STATE_SUBMITTED
        self.task.status.timestamp.FromDatetime(datetime.now(UTC))
        self.task.metadata.update({"workflowId": workflow_id(task_id)})
        self.hitl = hitl
        self.replay = False
        self.seq = 0
        self.pending: list[ToolCall] = []
        self.nested: NestedApproval | None = None  # whose calls `pending` are, if not ours
        self.pending_input: PendingInput | None = None
        self._answer = ""
        self._call: str | None = None  # the LLM call whose text the answer holds

    @property
    def state(self) -> TaskState:
        return self.task.status.state

    def add_user_message(
        self, text: str, message_id: str | None, files: list[dict[str, Any]] | None = None
    ) -> None:
        """The message that started the task (before its workflow has said so), under the
        client's id (or one of ours for a task started without); `files`: its images and
        files (`media_type`, `name`, the client's `url` if it gave one), each a FilePart
        with that URL, else our download URL."""
        message_id = message_id or f"{self.task.id}-user"
        if not (self.task.history and self.task.history[0].message_id == message_id):
            parts = [new_text_part(text)] if text or not files else []
            for n, file in enumerate(files or []):
                url = file.get("url") or self.links.input(self.task.id, n)
                parts.append(new_url_part(url, file.get("media_type"), file.get("name")))
            message = Message(
                message_id=message_id,
                role=Role.ROLE_USER,
                task_id=self.task.id,
                context_id=self.task.context_id,
                parts=parts,
            )
            self.task.history.insert(0, message)

    def snapshot(self) -> Task:
        task = Task()
        task.CopyFrom(self.task)
        return task

    def apply(self, event: Event) -> list[A2AEvent]:
        """Fold `event` into the task; return the A2A events it stands for."""
        self.seq = event.seq
        handler = getattr(self, "_on_" + event.type.replace(".", "_"), None)
        if handler is None:
            return []
        result: list[A2AEvent] = handler(event)
        return result

    # --- one method per event type ---------------------------------------------------------

    def _on_task_started(self, event: Event) -> list[A2AEvent]:
        data = event.data
        text = str(data.get("user_message", ""))
        self.add_user_message(text, data.get("message_id"), data.get("parts"))
        return [self._status(event, TaskState.TASK_STATE_WORKING)]

    def _on_llm_delta(self, event: Event) -> list[A2AEvent]:
        text = str(event.data.get("text", ""))
        append = self._call == event.data.get("call")
        self._call = event.data.get("call")
        self._answer = self._answer + text if append else text
        return [self._artifact(text, append=append, last=False)]

    def _on_llm_restart(self, event: Event) -> list[A2AEvent]:
        self._call, self._answer = event.data.get("call"), ""
        return [self._artifact("", append=False, last=False)]

    def _on_llm_message(self, event: Event) -> list[A2AEvent]:
        parts = [new_text_part(event.data["content"])] if event.data.get("content") else []
        calls = event.data.get("tool_calls") or []
        if calls:
            parts.append(new_data_part({"toolCalls": [_camel_keys(c) for c in calls]}))
        if not parts:
            return []
        message = self._message(event, Role.ROLE_AGENT, parts)
        self.task.history.append(message)
        if not calls:
            return []  # the final answer: it arrives as the artifact
        return [self._status(event, TaskState.TASK_STATE_WORKING, message)]

    def _on_tool_result(self, event: Event) -> list[A2AEvent]:
        message = self._message(
            event, Role.ROLE_AGENT, [new_data_part({"toolResult": _camel_keys(event.data)})]
        )
        self.task.history.append(message)
        return [self._status(event, TaskState.TASK_STATE_WORKING, message)]

    def _on_artifact_created(self, event: Event) -> list[A2AEvent]:
        data = event.data
        artifact_id = str(data.get("artifact_id", event.seq))
        artifact = Artifact(artifact_id=artifact_id, name=data.get("name") or artifact_id)
        artifact.parts.append(self._file(artifact_id, data))
        if data.get("tool_call_id"):
            artifact.metadata.update({"toolCallId": data["tool_call_id"]})
        answer = self._answer_index()
        self.task.artifacts.insert(len(self.task.artifacts) if answer is None else answer, artifact)
        return [
            TaskArtifactUpdateEvent(
                task_id=self.task.id,
                context_id=self.task.context_id,
                artifact=artifact,
                last_chunk=True,
            )
        ]

    def _file(self, artifact_id: str, data: dict[str, Any]) -> Part:
        """An artifact's part: its data, its bytes, the tool's link, or our download URL."""
        media_type, name = data.get("media_type"), data.get("name")
        if "data" in data and data.get("type") == "data":
            return new_data_part(data["data"], media_type)
        if data.get("content"):
            return new_raw_part(base64.b64decode(data["content"]), media_type, name)
        url = data.get("url") or self.links.artifact(self.task.id, artifact_id)
        return new_url_part(url, media_type, name)

    def _on_approval_required(self, event: Event) -> list[A2AEvent]:
        self.pending = [ToolCall.model_validate(c) for c in event.data.get("tool_calls", [])]
        nested = event.data.get("nested")
        self.nested = NestedApproval.model_validate(nested) if nested else None
        message = pause_message(
            approval_pause(self.pending, self.nested),
            task_id=self.task.id,
            context_id=self.task.context_id,
            message_id=self._message_id(event),
            hitl=self.hitl,
        )
        return [self._status(event, TaskState.TASK_STATE_INPUT_REQUIRED, message)]

    def _on_approval_decided(self, event: Event) -> list[A2AEvent]:
        data = event.data
        if data.get("automatic"):
            return []  # decided by the approval policy or for the session: nobody paused
        self.pending, self.nested = [], None
        verdicts = {**data.get("tool_calls", {})}
        if data.get("approved") is not None:
            text = "approve" if data["approved"] else "reject"
        else:
            text = "decided per tool call"
        if data.get("reason"):
            text += f": {data['reason']}"
        if data.get("message"):
            text = data["message"]  # the user answered in their own words
        parts = [new_text_part(text)]
        if verdicts:
            parts.append(new_data_part({"toolCalls": verdicts}))
        message = self._message(event, Role.ROLE_USER, parts)
        message.message_id = data.get("message_id") or message.message_id
        self.task.history.append(message)
        return [self._status(event, TaskState.TASK_STATE_WORKING)]

    def _on_input_required(self, event: Event) -> list[A2AEvent]:
        self.pending_input = PendingInput.model_validate(event.data)
        message = pause_message(
            question_pause(self.pending_input),
            task_id=self.task.id,
            context_id=self.task.context_id,
            message_id=self._message_id(event),
            hitl=self.hitl,
        )
        return [self._status(event, TaskState.TASK_STATE_INPUT_REQUIRED, message)]

    def _on_input_answered(self, event: Event) -> list[A2AEvent]:
        self.pending_input = None
        answers = event.data.get("answers") or []
        text = "\n".join(", ".join(answer) for answer in answers)
        parts = [new_text_part(text), new_data_part({"answers": answers})]
        self.task.history.append(self._message(event, Role.ROLE_USER, parts))
        return [self._status(event, TaskState.TASK_STATE_WORKING)]

    def _on_task_completed(self, event: Event) -> list[A2AEvent]:
        self._answer = str((event.data.get("result") or {}).get("content") or "")
        self._set_usage(event.data)
        return [
            self._artifact(self._answer, append=False, last=True),
            self._status(event, TaskState.TASK_STATE_COMPLETED),
        ]

    def _on_task_failed(self, event: Event) -> list[A2AEvent]:
        error = event.data.get("error") or {}
        text = f"{error.get('code', 'failed')}: {error.get('message', 'the task failed')}"
        self._set_usage(event.data)
        message = self._message(event, Role.ROLE_AGENT, [new_text_part(text)])
        return [self._status(event, TaskState.TASK_STATE_FAILED, message)]

    def _on_task_cancelled(self, event: Event) -> list[A2AEvent]:
        self._set_usage(event.data)
        error = event.data.get("error")
        if not isinstance(error, dict):
            return [self._status(event, TaskState.TASK_STATE_CANCELED)]
        text = f"{error.get('code', 'cancelled')}: {error.get('message', '')}"
        message = self._message(event, Role.ROLE_AGENT, [new_text_part(text)])
        return [self._status(event, TaskState.TASK_STATE_CANCELED, message)]

    def _on_task_queued(self, event: Event) -> list[A2AEvent]:
        text = f"queued behind task {event.data.get('behind')} of this context"
        message = self._message(event, Role.ROLE_AGENT, [new_text_part(text)])
        return [self._status(event, TaskState.TASK_STATE_SUBMITTED, message)]

    # --- building blocks -------------------------------------------------------------------

    def _message_id(self, event: Event) -> str:
        # Derived from the event, so a message has the same id in every answer.
        return f"{self.task.id}-{event.seq}"

    def _message(self, event: Event, role: Role, parts: list[Any]) -> Message:
        return Message(
            message_id=self._message_id(event),
            role=role,
            task_id=self.task.id,
            context_id=self.task.context_id,
            parts=parts,
        )

    def _status(
        self, event: Event, state: TaskState, message: Message | None = None
    ) -> TaskStatusUpdateEvent:
        status = TaskStatus(state=state)
        status.timestamp.FromDatetime(datetime.fromtimestamp(event.time, UTC))
        if message is not None:
            status.message.CopyFrom(message)
        self.task.status.CopyFrom(status)
        update = TaskStatusUpdateEvent(
            task_id=self.task.id, context_id=self.task.context_id, status=status
        )
        if state in TERMINAL:
            update.metadata.CopyFrom(self.task.metadata)
        return update

    def _artifact(self, text: str, *, append: bool, last: bool) -> TaskArtifactUpdateEvent:
        chunk = Artifact(artifact_id=self._answer_id, name="answer")
        chunk.parts.append(new_text_part(text))
        whole = Artifact()
        whole.CopyFrom(chunk)
        whole.parts[0].text = self._answer
        answer = self._answer_index()
        if answer is None:
            self.task.artifacts.append(whole)
        else:
            self.task.artifacts[answer].CopyFrom(whole)
        return TaskArtifactUpdateEvent(
            task_id=self.task.id,
            context_id=self.task.context_id,
            artifact=chunk,
            append=append,
            last_chunk=last,
        )

    @property
    def _answer_id(self) -> str:
        return f"{self.task.id}-answer"

    def _answer_index(self) -> int | None:
        """Where the answer is among the task's artifacts (None: not yet there)."""
        ids = [artifact.artifact_id for artifact in self.task.artifacts]
        return ids.index(self._answer_id) if self._answer_id in ids else None

    def _set_usage(self, data: dict[str, Any]) -> None:
        """Usage in A2A's field style (camelCase): `usage.promptTokens`, …, `iterations`."""
        if "usage" in data:
            self.task.metadata.update({"usage": _camel_keys(data["usage"])})
        if "iterations" in data:
            self.task.metadata.update({"iterations": data["iterations"]})


def _camel_keys(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with its own keys in A2A's JSON style (`tool_call_id` → `toolCallId`); values,
    such as a tool call's arguments, are left as they are. None values are dropped."""
    return {_camel(k): v for k, v in data.items() if v is not None}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)
