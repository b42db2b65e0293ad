"""Another agent's task as an `agent` tool call sees it: folded from what its A2A stream
sends (a `Task`, status and artifact updates) or from `GetTask`, until its turn is over.

A turn is over when the task ends (completed, failed, canceled, rejected), waits for
someone (input-required, auth-required), or the agent answered with a `Message` and no task.
Its text is what its artifacts say (the answer, as it is written), else its status message's
text, as kagent-adk reads a remote agent's result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from a2a.types import Artifact, Message, StreamResponse, Task, TaskState, TaskStatus

__all__ = ["ENDED", "WAITING", "ChildTurn"]

# A2A's task states that end a task, and those in which it waits for someone.
ENDED = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_REJECTED,
    }
)
WAITING = frozenset({TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED})


def _text(parts: object) -> str:
    return "\n".join(p.text for p in parts if p.HasField("text") and p.text)  # type: ignore[attr-defined]


@dataclass
class ChildTurn:
    """What we know of the agent's task (`task_id` in `context_id`)."""

    task_id: str = ""
    context_id: str = ""
    state: TaskState = TaskState.TASK_STATE_UNSPECIFIED
    status: TaskStatus | None = None
    reply: Message | None = None  # the agent answered with a message, not a task
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def over(self) -> bool:
        return self.reply is not None or self.state in ENDED | WAITING

    @property
    def ended(self) -> bool:
        return self.reply is not None or self.state in ENDED

    @property
    def waiting(self) -> bool:
        return self.state == TaskState.TASK_STATE_INPUT_REQUIRED

    @property
    def failed(self) -> bool:
        return self.reply is None and self.state in ENDED - {TaskState.TASK_STATE_COMPLETED}

    @property
    def text(self) -> str:
        """What the agent has written so far (its artifacts)."""
        return "\n".join(text for text in self.artifacts.values() if text)

    def result(self) -> str:
        """The turn's result text: the artifacts, else the status message, else the reply."""
        if self.reply is not None:
            return _text(self.reply.parts)
        if text := self.text:
            return text
        if self.status is not None and self.status.HasField("message"):
            return _text(self.status.message.parts)
        return ""

    @property
    def message(self) -> Message | None:
        """The status message (a paused task's says what it waits for)."""
        if self.status is not None and self.status.HasField("message"):
            return self.status.message
        return None

    def apply(self, response: StreamResponse) -> None:
        kind = response.WhichOneof("payload")
        if kind == "task":
            self.apply_task(response.task)
        elif kind == "status_update":
            status = response.status_update
            self._ids(status.task_id, status.context_id)
            self._status(status.status)
        elif kind == "artifact_update":
            chunk = response.artifact_update
            self._ids(chunk.task_id, chunk.context_id)
            self._artifact(chunk.artifact, append=chunk.append)
        elif kind == "message":
            self.reply = response.message
            self._ids(response.message.task_id, response.message.context_id)

    def apply_task(self, task: Task) -> None:
        self._ids(task.id, task.context_id)
        self._status(task.status)
        self.artifacts = {}
        for artifact in task.artifacts:
            self._artifact(artifact, append=False)

    def _ids(self, task_id: str, context_id: str) -> None:
        self.task_id = task_id or self.task_id
        self.context_id = context_id or self.context_id

    def _status(self, status: TaskStatus) -> None:
        self.state = status.state
        self.status = status

    def _artifact(self, artifact: Artifact, *, append: bool) -> None:
        text = _text(artifact.parts)
        key = artifact.artifact_id
        self.artifacts[key] = self.artifacts.get(key, "") + text if append else text
