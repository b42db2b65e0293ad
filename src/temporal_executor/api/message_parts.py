"""A user message as a request gives it: text, or a list of parts in the seed's content
style (`text`; `image` and `file` with base64 `data` or a `url`), for `user_message` of
`POST /api/v1/execute` and `content` of `/a2a/message` (`bodies.py`)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from ..config.section import MEDIA_TYPE_PATTERN

__all__ = [
    "MAX_MESSAGE_CHARS",
    "MAX_PARTS",
    "InputPart",
    "MediaInput",
    "TextInput",
    "UserMessage",
    "has_content",
    "message_media",
    "message_text",
]

# Per-field caps (the whole body is capped by `server.max_body_bytes`).
MAX_MESSAGE_CHARS = 1_000_000
MAX_PARTS = 64


class TextInput(BaseModel):
    """A text part of a user message (the seed's content style)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str = Field(max_length=MAX_MESSAGE_CHARS)


class MediaInput(BaseModel):
    """An image or a file of a user message: its content inline (`data`, base64, with its
    `media_type`) or at an http(s) `url`, fetched when the task is submitted."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["image", "file"]
    data: str | None = Field(default=None, min_length=1, repr=False)
    url: str | None = Field(default=None, min_length=1, max_length=8192, pattern=r"^https?://")
    media_type: str | None = Field(default=None, pattern=MEDIA_TYPE_PATTERN)
    name: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _one_source(self) -> MediaInput:
        if (self.data is None) == (self.url is None):
            raise ValueError("give the content as data (base64) or url, one of them")
        if self.data is not None and self.media_type is None:
            raise ValueError("media_type is required with data")
        if self.type == "image" and self.media_type and not self.media_type.startswith("image/"):
            raise ValueError(f"an image's media_type is image/..., not {self.media_type}")
        if self.data is not None:
            try:
                base64.b64decode(self.data, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("data is not base64") from None
        return self

    def content(self) -> bytes | None:
        """The inline content, decoded (None: it is at `url`)."""
        return None if self.data is None else base64.b64decode(self.data)


InputPart = Annotated[TextInput | MediaInput, Field(discriminator="type")]
# A user message: text, or a list of parts (errors then name the part: `user_message.0.url`).
UserMessage = Annotated[
    Annotated[str, Tag("text"), Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    | Annotated[list[InputPart], Tag("parts"), Field(min_length=1, max_length=MAX_PARTS)],
    Discriminator(lambda value: "text" if isinstance(value, str) else "parts"),
]


def has_content(message: str | list[TextInput | MediaInput]) -> Any:
    """`message`, if it has something for the model (a list of blank texts has not)."""
    if isinstance(message, list):
        if not any(isinstance(p, MediaInput) or p.text.strip() for p in message):
            raise ValueError("the message has no content")
    return message


def message_text(message: str | list[TextInput | MediaInput]) -> str:
    """The message's text: its text parts, one per line."""
    if isinstance(message, str):
        return message
    return "\n".join(p.text for p in message if isinstance(p, TextInput))


def message_media(message: str | list[TextInput | MediaInput]) -> list[tuple[int, MediaInput]]:
    """The message's images and files, in order, each with its place among the parts."""
    if isinstance(message, str):
        return []
    return [(n, p) for n, p in enumerate(message) if isinstance(p, MediaInput)]
