"""Large contents live in the event store, not in workflow history.

Temporal keeps every activity input and result in history (2 MB per payload, 50 MB per run).
A tool result or an LLM answer over `inline_bytes` is stored as a blob and travels through
history as a short preview plus a `content_ref`; whoever needs the whole reads it back here:
`invoke_llm` before sending the transcript (capped at `max_content_bytes`, with a note),
`record` before writing what clients read.

Bytes (a user's image, a tool's file: a message's `parts`, a task's artifacts) are always
blobs, as base64 text, under keys of their task: `input_key`, `artifact_key`. Before a call,
`resolve_parts` reads the parts a model is sent and says in the text what it cannot read.
"""

from __future__ import annotations

import base64
import binascii

from .llm.media import is_text
from .llm.messages import Message, Part
from .store import Blobs

__all__ = [
    "PREVIEW_BYTES",
    "artifact_key",
    "cap",
    "get_bytes",
    "input_key",
    "offload",
    "put_bytes",
    "resolve",
    "resolve_messages",
    "resolve_parts",
]

PREVIEW_BYTES = 1024


def _clip(text: str, limit: int) -> str:
    return text.encode()[:limit].decode(errors="ignore")


async def offload(blobs: Blobs, key: str, text: str, inline_bytes: int) -> tuple[str, str | None]:
    """`(text, None)` when small; else store it and return `(preview, key)`."""
    size = len(text.encode())
    if size <= inline_bytes:
        return text, None
    await blobs.put(key, text)
    return f"{_clip(text, PREVIEW_BYTES)}… [{size} bytes, stored as {key}]", key


async def resolve(blobs: Blobs, text: str, key: str | None) -> str:
    """The whole content behind a preview (the preview itself if the blob is gone)."""
    if key is None:
        return text
    return await blobs.get(key) or text


def cap(text: str, max_bytes: int) -> str:
    """At most `max_bytes` of `text`, with a note saying how much was left out."""
    size = len(text.encode())
    if size <= max_bytes:
        return text
    return f"{_clip(text, max_bytes)}\n[truncated: {size - max_bytes} of {size} bytes left out]"


async def resolve_messages(
    blobs: Blobs, messages: list[Message], max_bytes: int | None = None
) -> list[Message]:
    """Messages with their whole contents (each capped at `max_bytes` when given)."""
    resolved = []
    for message in messages:
        if message.content_ref is not None and message.content is not None:
            content = await resolve(blobs, message.content, message.content_ref)
            message = message.model_copy(update={"content": content, "content_ref": None})
        if max_bytes is not None and message.content is not None:
            message = message.model_copy(update={"content": cap(message.content, max_bytes)})
        resolved.append(message)
    return resolved


def input_key(task_id: str, index: int) -> str:
    """Where the content of the `index`-th part of a task's user message is kept."""
    return f"{task_id}/input/{index}"


def artifact_key(task_id: str, artifact_id: str) -> str:
    """Where the content of one of a task's artifacts is kept."""
    return f"{task_id}/artifact/{artifact_id}"


async def put_bytes(blobs: Blobs, key: str, data: bytes) -> None:
    await blobs.put(key, base64.b64encode(data).decode("ascii"))


async def get_bytes(blobs: Blobs, key: str) -> bytes | None:
    """The bytes stored under `key` (None: nothing, or not bytes)."""
    text = await blobs.get(key)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


async def resolve_parts(
    blobs: Blobs, messages: list[Message], accepts: frozenset[str], max_bytes: int
) -> tuple[list[Message], dict[str, str]]:
    """The messages as a model that reads the media types `accepts` is sent them, and the
    base64 content of the parts it is sent, by blob key. A `text/*` part joins its message's
    text (at most `max_bytes` of it); a part the model cannot read, or whose content is gone,
    is named in the text instead, so the model knows it was there."""
    media: dict[str, str] = {}
    resolved: list[Message] = []
    for message in messages:
        if not message.parts:
            resolved.append(message)
            continue
        kept: list[Part] = []
        texts = [message.content] if message.content else []
        for part in message.parts:
            content = await blobs.get(part.blob) if part.blob else None
            if content is None:
                texts.append(f"[{part.label()}: its content is not available]")
            elif is_text(part.media_type):
                texts.append(f"[{part.label()}]\n{cap(_decoded(content), max_bytes)}")
            elif part.media_type in accepts:
                kept.append(part)
                media[part.blob or ""] = content
            else:
                texts.append(f"[{part.label()}: this model does not read {part.media_type}]")
        update = {"content": "\n\n".join(texts) or None, "parts": kept}
        resolved.append(message.model_copy(update=update))
    return resolved, media


def _decoded(content: str) -> str:
    try:
        return base64.b64decode(content).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""
