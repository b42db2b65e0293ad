"""What the Gemini wire fake (`gemini_fake.py`) checks in a request about thinking and inline
data, as Google documents it, and the thought signatures it issues.

- Gemini 3 and later (`gemini-3*`, `gemini-4*`): in the current turn (everything after the
  last user content that has text, not only function responses), the first `functionCall`
  part of each model step must carry its `thoughtSignature`: one this fake issued, or Google's
  documented placeholder `skip_thought_signature_validator` ("Function call is missing a
  thought_signature in functionCall parts …", 400 INVALID_ARGUMENT); a signature it never
  issued is refused too. Earlier turns are not checked, as Google says.
- `thinkingConfig`: never both `thinkingLevel` and `thinkingBudget`; a level only from
  Gemini 3.
- Inline data (`inline_media`, `result_media`): a MIME type Gemini takes (no GIF), an image
  whose bytes are that image, base64; a function response's parts inline only (URI data is
  not supported there on the Developer API). Otherwise `Refused`, with Google's message.

The SDK sends a part's outer keys in camelCase and what is inside in snake case, and a
signature as URL-safe base64 (the API itself answers standard base64): both spellings and both
alphabets are taken.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from typing import Any

from .rules import MAGIC, decoded, sniffed

__all__ = [
    "PLACEHOLDER",
    "Refused",
    "Signatures",
    "inline_media",
    "problem",
    "result_media",
    "thinks",
]

PLACEHOLDER = b"skip_thought_signature_validator"
_MISSING = (
    "Function call is missing a thought_signature in functionCall parts. This is required for "
    "tools to work correctly, and missing thought_signature may lead to degraded model "
    "performance. Additional data, function call `default_api:{name}` , position {position}. "
    "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
)
_VERSION = re.compile(r"^gemini-(\d+)")


class Signatures:
    """The thought signatures this fake issued (each reply gets its own)."""

    def __init__(self) -> None:
        self._issued: set[bytes] = set()
        self._numbers = itertools.count(1)

    def issue(self) -> str:
        """A new signature, as the API sends it (standard base64)."""
        raw = f"fake-thought-signature-{next(self._numbers)}".encode()
        self._issued.add(raw)
        return base64.b64encode(raw).decode()

    def known(self, raw: bytes) -> bool:
        return raw in self._issued or raw == PLACEHOLDER


def field(part: dict[str, Any], camel: str) -> Any:
    """A part's field under its camelCase or snake_case name."""
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return part.get(camel, part.get(snake))


def thinks(model: str) -> bool:
    """Whether `model` validates thought signatures (Gemini 3 and later)."""
    match = _VERSION.match(model)
    return match is not None and int(match.group(1)) >= 3


def problem(body: dict[str, Any], model: str, signatures: Signatures) -> str | None:
    """What the API would refuse about thinking in this request, or None."""
    config = field(body.get("generationConfig") or {}, "thinkingConfig") or {}
    level, budget = field(config, "thinkingLevel"), field(config, "thinkingBudget")
    if level is not None and budget is not None:
        return "You cannot use both thinking_level and thinking_budget in the same request."
    if level is not None and not thinks(model):
        return "Thinking level is not supported for this model."
    if not thinks(model):
        return None
    contents = body.get("contents") or []
    start = 0
    for index, content in enumerate(contents):
        parts = content.get("parts") or []
        if content.get("role") != "model" and any(field(p, "text") for p in parts):
            start = index + 1
    for index in range(start, len(contents)):
        content = contents[index]
        calls = [p for p in content.get("parts") or [] if field(p, "functionCall")]
        if content.get("role") != "model" or not calls:
            continue
        signature = _decoded(field(calls[0], "thoughtSignature"))
        name = field(calls[0], "functionCall").get("name", "")
        if signature is None:
            return _MISSING.format(name=name, position=index + 1)
        if not signatures.known(signature):
            return f"Corrupted thought signature in function call `default_api:{name}`."
    return None


def _decoded(text: Any) -> bytes | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/") + "==")
    except (binascii.Error, ValueError):
        return b""


class Refused(Exception):
    """A request Gemini answers 400 (the message)."""


_TAKES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "application/pdf")
_UNREADABLE_IMAGE = (
    "Unable to process input image. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)


def _inline(part: Any, where: str) -> str | None:
    """The MIME type of a part's inline data, checked (None: it has none)."""
    blob = part.get("inlineData") or part.get("inline_data") if isinstance(part, dict) else None
    if blob is None:
        return None
    mime = str(blob.get("mimeType") or blob.get("mime_type") or "")
    takes = mime in _TAKES or mime == "text/plain" or mime.startswith(("audio/", "video/"))
    if not takes:
        raise Refused(f"{where}.inline_data.mime_type: Unsupported MIME type: {mime}")
    data = decoded(blob.get("data"))
    if data is None:
        raise Refused(f"Invalid value at '{where}.inline_data.data' (TYPE_BYTES): invalid base64")
    if mime.startswith("image/") and mime in MAGIC and sniffed(data) != mime:
        raise Refused(_UNREADABLE_IMAGE)
    if mime == "application/pdf" and sniffed(data) != mime:
        raise Refused("Request contains an invalid argument.")
    return mime


def inline_media(parts: list[Any], where: str) -> list[str]:
    """The MIME types of the inline data among `parts`, each checked (`Refused`)."""
    found = [_inline(part, f"{where}.parts[{k}]") for k, part in enumerate(parts)]
    return [mime for mime in found if mime]


def result_media(response: dict[str, Any], where: str) -> list[str]:
    """The MIME types of a function response's parts: inline data only."""
    parts = response.get("parts") or []
    for k, part in enumerate(parts):
        if isinstance(part, dict) and (part.get("fileData") or part.get("file_data")):
            raise Refused(f"{where}.parts[{k}].file_data: URI based data is not supported")
    return inline_media(parts, where)
