"""What a task makes for its client besides its answer: the `artifact.created` event of an
artifact (a tool's file or image, `tools.py`), and a final answer under a JSON-schema
`response_format` as the task's `result` data artifact (A2A's DataPart) (`llm.py`)."""

from __future__ import annotations

import base64
import json
from typing import Any

from ..llm.messages import Artifact, Message
from ..payloads import artifact_key, put_bytes
from ..spec import ModelChoice
from ..store import Blobs, NewEvent
from ..tasks import EventType

__all__ = ["RESULT_ARTIFACT", "artifact_event", "structured_artifacts"]

RESULT_ARTIFACT = "result"  # the id of a structured answer's artifact


async def artifact_event(blobs: Blobs, artifact: Artifact, inline_bytes: int) -> NewEvent:
    """The `artifact.created` event of `artifact`: its description, with its content whole
    when it is at most `inline_bytes` (`content`, base64; `data` for a structured value), so
    that clients get a small one without downloading it."""
    data: dict[str, Any] = artifact.model_dump(mode="json", exclude={"blob"})
    if artifact.blob and artifact.size is not None and artifact.size <= inline_bytes:
        content = await blobs.get(artifact.blob)
        if content is not None and artifact.type == "data":
            data["data"] = json.loads(base64.b64decode(content))
        elif content is not None:
            data["content"] = content
    return NewEvent(f"artifact:{artifact.artifact_id}", EventType.ARTIFACT_CREATED, data)


async def structured_artifacts(
    blobs: Blobs, task_id: str, model: ModelChoice, message: Message
) -> list[Artifact]:
    """A final answer asked for under a JSON schema, as the task's data artifact (when it is
    JSON: an answer cut short by the token limit is not)."""
    format: dict[str, Any] = model.response_format or {}
    if message.tool_calls or message.content is None or format.get("type") != "json_schema":
        return []
    try:
        json.loads(message.content)
    except ValueError:
        return []
    key = artifact_key(task_id, RESULT_ARTIFACT)
    content = message.content.encode()
    await put_bytes(blobs, key, content)
    artifact = Artifact(
        artifact_id=RESULT_ARTIFACT,
        type="data",
        media_type="application/json",
        name="result.json",
        blob=key,
        size=len(content),
    )
    return [artifact]
