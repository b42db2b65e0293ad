"""What OpenAI checks in a request's images and files, for the OpenAI wire fake's two APIs:
Chat Completions (`chat_media`, `openai_fake.py`) and the Responses API (`responses_media`,
`responses_fake.py`). Each gives the media types of the parts it found, or raises `Refused`
with OpenAI's 400 (its message, `param` and `code`).

Chat Completions: a user message may hold `text`, `image_url` (`{url}`: an http(s) URL, or a
base64 data URL of a PNG, JPEG, GIF or WebP image whose bytes are that image) and `file`
(`{file_data: <a data URL of a PDF>, filename}` or `{file_id}`) parts; every other role takes
text parts only (a tool message cannot carry an image).

Responses API: a user message's content may hold `input_text`, `input_image` (`image_url`: the
same URL or data URL, or a `file_id`; `detail`: `low`, `high`, `auto` or `original`, required
as the SDK's types have it) and `input_file` (`file_data`: a data URL, with a `filename`; or
`file_url`, an http(s) URL; or `file_id`); an assistant message `output_text` and `refusal`
only; a `function_call_output`'s `output` is a string or a list of `input_text`,
`input_image` and `input_file`.
"""

from __future__ import annotations

from typing import Any

from .rules import Call, Result, Turn, decoded, sniffed

__all__ = ["Refused", "chat_media", "chat_turns", "responses_media"]

_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_DETAILS = ("low", "high", "auto", "original")
_RESPONSES_CONTENT = (
    "'input_text', 'input_image', 'output_text', 'refusal', 'input_file', "
    "'computer_screenshot', and 'summary_text'"
)


class Refused(Exception):
    """What OpenAI answers 400 about a message: its message, `param` and `code`."""

    def __init__(self, message: str, param: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def chat_media(i: int, role: str, parts: list[Any]) -> list[str]:
    """The media types of a chat message's image and file parts, each checked."""
    media: list[str] = []
    for j, part in enumerate(parts):
        where = f"messages[{i}].content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" or (role == "assistant" and kind == "refusal"):
            continue
        if role != "user" or kind not in ("image_url", "file"):
            supported = "'text', 'image_url', 'input_audio', 'file'" if role == "user" else "'text'"
            raise Refused(
                f"Invalid value: '{kind}'. Supported values are: {supported}.", f"{where}.type"
            )
        if kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            if not isinstance(url, str):
                raise Refused(f"Missing required parameter: '{where}.image_url.url'.", where)
            media.append(_image(where, url))
            continue
        file = part.get("file")
        if not isinstance(file, dict) or not (file.get("file_data") or file.get("file_id")):
            raise Refused(f"Missing required parameter: '{where}.file.file_data'.", where)
        if file.get("file_id"):
            media.append("file/id")
            continue
        media.append(_pdf(f"{where}.file", str(file["file_data"])))
        if not file.get("filename"):
            raise Refused(f"Missing required parameter: '{where}.file.filename'.", where)
    return media


def chat_turns(messages: list[dict[str, Any]]) -> list[Turn]:
    """A chat request's messages as the rules read them, each one's images and files checked
    (a user message of files right after tool messages: those results' files)."""
    turns: list[Turn] = []
    for i, message in enumerate(messages):
        role = str(message.get("role", ""))
        content = message.get("content")
        media = chat_media(i, role, content) if isinstance(content, list) else []
        text = _text(content)
        if role == "user" and media and turns and turns[-1].role == "tool":
            turns[-1].media += media  # the files of the tool results just before
            continue
        if role == "tool":
            result = Result(content=text, call_id=str(message.get("tool_call_id", "")))
            turns.append(Turn(role="tool", tool_results=[result]))
            continue
        calls = [
            Call(
                name=c.get("function", {}).get("name", ""),
                arguments=c.get("function", {}).get("arguments", ""),
                id=c.get("id", ""),
            )
            for c in message.get("tool_calls") or []
        ]
        turns.append(Turn(role=role, text=text, tool_calls=calls, media=media))
    return turns


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def responses_media(i: int, item: dict[str, Any]) -> list[str]:
    """The media types of a Responses input item's images and files, each checked (a
    message's content, a `function_call_output`'s output)."""
    kind = item.get("type", "message")
    if kind == "function_call_output":
        output = item.get("output")
        if isinstance(output, str):
            return []
        if not isinstance(output, list):
            message = f"Invalid type for 'input[{i}].output': expected a string or an array."
            raise Refused(message, f"input[{i}].output")
        return _input_parts(
            f"input[{i}].output", output, "'input_text', 'input_image', and 'input_file'"
        )
    content = item.get("content")
    if kind != "message" or not isinstance(content, list):
        return []
    if item.get("role") == "assistant":
        for j, part in enumerate(content):
            part_kind = part.get("type") if isinstance(part, dict) else None
            if part_kind not in ("output_text", "refusal"):
                supported = "'output_text' and 'refusal'"
                message = f"Invalid value: '{part_kind}'. Supported values are: {supported}."
                raise Refused(message, f"input[{i}].content[{j}]")
        return []
    return _input_parts(f"input[{i}].content", content, _RESPONSES_CONTENT)


def _input_parts(where: str, parts: list[Any], supported: str) -> list[str]:
    media: list[str] = []
    for j, part in enumerate(parts):
        at = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "input_text":
            if not isinstance(part.get("text"), str):
                raise Refused(f"Missing required parameter: '{at}.text'.", f"{at}.text")
        elif kind == "input_image":
            media.append(_input_image(at, part))
        elif kind == "input_file":
            media.append(_input_file(at, part))
        else:
            raise Refused(f"Invalid value: '{kind}'. Supported values are: {supported}.", at)
    return media


def _input_image(where: str, part: dict[str, Any]) -> str:
    detail = part.get("detail")
    if detail is None:
        raise Refused(f"Missing required parameter: '{where}.detail'.", f"{where}.detail")
    if detail not in _DETAILS:
        message = (
            f"Invalid value: '{detail}'. Supported values are: 'low', 'high', 'auto', and "
            "'original'."
        )
        raise Refused(message, f"{where}.detail")
    if part.get("file_id"):
        return "file/id"
    url = part.get("image_url")
    if not isinstance(url, str):
        message = f"Missing required parameter: '{where}.image_url' (or '{where}.file_id')."
        raise Refused(message, f"{where}.image_url")
    return _image(where, url)


def _input_file(where: str, part: dict[str, Any]) -> str:
    if part.get("file_id"):
        return "file/id"
    if isinstance(part.get("file_url"), str):
        if not part["file_url"].startswith(("https://", "http://")):
            raise Refused(f"Invalid URL: '{where}.file_url'.", f"{where}.file_url")
        return "file/url"
    if not isinstance(part.get("file_data"), str):
        message = (
            f"Missing required parameter: one of '{where}.file_data', '{where}.file_url' or "
            f"'{where}.file_id'."
        )
        raise Refused(message, where)
    media_type = _pdf(where, part["file_data"])
    if not part.get("filename"):
        raise Refused(f"Missing required parameter: '{where}.filename'.", f"{where}.filename")
    return media_type


def _image(where: str, url: str) -> str:
    """An image URL, or a data URL whose type OpenAI takes and whose bytes are that image."""
    if url.startswith(("https://", "http://")):
        return "image/url"
    media_type, data = _data_url(url)
    if media_type not in _IMAGE_TYPES:
        raise Refused(
            "Invalid MIME type. Only image types are supported.", where, "invalid_image_format"
        )
    if data is None or sniffed(data) != media_type:
        raise Refused(
            "You uploaded an unsupported image. Please make sure your image is valid.",
            where,
            "invalid_image",
        )
    return media_type


def _pdf(where: str, file_data: str) -> str:
    """A file's data URL, of a PDF (the one type both APIs read from bytes in the fake)."""
    media_type, data = _data_url(file_data)
    if media_type != "application/pdf" or data is None:
        raise Refused(
            f"Invalid file data: '{where}'. Expected a base64-encoded data URL with an "
            f"application/pdf MIME type (e.g. 'data:application/pdf;base64,SGVsbG8sIFdvcmxkIQ=='"
            f"), but got unsupported MIME type '{media_type}'.",
            where,
        )
    if sniffed(data) != "application/pdf":
        raise Refused("The file is not a valid PDF.", where, "invalid_file")
    return media_type


def _data_url(url: str) -> tuple[str, bytes | None]:
    """A `data:<type>;base64,<data>` URL's type and bytes ("", None: not one)."""
    head, _, data = url.partition(",")
    if not head.startswith("data:") or not head.endswith(";base64"):
        return "", None
    return head.removeprefix("data:").removesuffix(";base64"), decoded(data)
