"""Large contents live in the event store, not in workflow history.

Temporal keeps every activity input and result in history (2 MB per payload, 50 MB per run).
A tool result or an LLM answer over `inline_bytes` is stored as a blob and travels through
history as a short preview plus a `content_ref`; whoever needs the whole reads it back here:
`invoke_llm` before sending the transcript (capped at `max_content_bytes`, with a note),
`record` before writing what clients read.
"""

from __future__ import annotations

from .llm.messages import Message
from .store import Blobs

__all__ = ["PREVIEW_BYTES", "cap", "offload", "resolve", "resolve_messages"]

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
