"""A task's files with their contents from the store: its artifacts (what its tools and its
structured answer made) and the images and files of the message that started it — what
`GET /api/v1/tasks/{id}/artifacts/{artifact_id}` and `…/inputs/{n}` serve.

Both are found from what the task recorded (its state, its events), never from the request:
a key is a task's (`tenants.py`), so another tenant's files are as absent as its task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ContentNotFoundError
from .llm.messages import Artifact, Part
from .payloads import artifact_key, get_bytes, input_key
from .tasks import EventType

if TYPE_CHECKING:
    from .service import TaskService

__all__ = ["artifact", "user_file"]


async def artifact(tasks: TaskService, task_id: str, artifact_id: str) -> tuple[Artifact, bytes]:
    """One of the task's artifacts and its content; `ContentNotFoundError` when it has none
    such (a link has no content here). One a tool made just now is in the task's log before
    it is in its recorded state."""
    state = await tasks.get(task_id)
    found = next((a for a in state.artifacts if a.artifact_id == artifact_id), None)
    if found is None:
        for event in await tasks.log(task_id):
            data = event.data
            if event.type == EventType.ARTIFACT_CREATED and data.get("artifact_id") == artifact_id:
                found = Artifact.model_validate(data | {"blob": artifact_key(task_id, artifact_id)})
    content = await get_bytes(tasks.store.blobs, found.blob) if found and found.blob else None
    if found is None or content is None:
        raise ContentNotFoundError(f"task {task_id!r} has no artifact {artifact_id!r} to download")
    return found, content


async def user_file(tasks: TaskService, task_id: str, index: int) -> tuple[Part, bytes]:
    """The `index`-th image or file of the message that started the task, and its content;
    `ContentNotFoundError` when there is none such."""
    await tasks.get(task_id)
    for event in await tasks.store.events.read(task_id, 0, 1):
        described = event.data.get("parts") or []
        if event.type == EventType.TASK_STARTED and 0 <= index < len(described):
            key = input_key(task_id, index)
            if (content := await get_bytes(tasks.store.blobs, key)) is not None:
                return Part.model_validate(described[index] | {"blob": key}), content
    raise ContentNotFoundError(f"task {task_id!r} has no file {index} in its message")
