"""Media types of content parts: which ones a model reads as what they are, and the few
helpers every vendor's wire form needs (a data URL, a part's base64 content).

A provider says what it takes in `ProviderSettings.accepted_media` (`settings.py`), from config
alone, so the API refuses a part a task's model cannot read before the task starts. Parts
of a `text/*` type are read as text by every model: `resolve_parts` (`payloads.py`) puts
them into the message's text, so no provider needs to take them.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, urlsplit

__all__ = [
    "DOCUMENT_TYPES",
    "GEMINI_TYPES",
    "IMAGE_TYPES",
    "VISION_TYPES",
    "data_url",
    "file_name",
    "is_text",
    "kind_of",
]

# The image types OpenAI (and Azure OpenAI) and Anthropic document.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# The document type they all read (Chat Completions takes no other file).
DOCUMENT_TYPES = frozenset({"application/pdf"})
VISION_TYPES = IMAGE_TYPES | DOCUMENT_TYPES
# Gemini's image types (no GIF) and PDF.
GEMINI_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
GEMINI_TYPES |= DOCUMENT_TYPES


def is_text(media_type: str) -> bool:
    """Whether a part of this type is text that any model reads inline."""
    return media_type.startswith("text/")


def kind_of(media_type: str) -> Literal["image", "audio", "file"]:
    """`image`, `audio` or `file`: the kind of part a media type makes."""
    if media_type.startswith("image/"):
        return "image"
    if media_type.startswith("audio/"):
        return "audio"
    return "file"


def data_url(media_type: str, base64_data: str) -> str:
    """`data:<type>;base64,<data>`: how OpenAI takes inline images and files."""
    return f"data:{media_type};base64,{base64_data}"


def file_name(url: str | None) -> str | None:
    """The last segment of a URL's path, as a file's name (None: it has none)."""
    if not url:
        return None
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) or None
