"""A local Gemini REST server, as the `google-genai` SDK calls it: `generateContent` (JSON) and
`streamGenerateContent?alt=sse` (SSE), on the Developer API and on Vertex AI paths:

- `POST /{version}/models/{model}:{method}` (Developer API; key in `x-goog-api-key` or `?key=`);
- `POST /{version}/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}`
  (Vertex AI; `Authorization: Bearer <token>` or an API key);
- `POST /{version}/publishers/google/models/{model}:{method}` (Vertex AI express mode, API key).

Any API version is accepted (the SDK sends `v1` / `v1beta` / `v1beta1`). Replies follow the
rules of `rules.py` on the received `contents` (a `user` content of `functionResponse` parts is
a tool turn; a result's name is the `functionResponse` name and its content the `output`,
`result` or `error` string of `response`). The control API (`/_fake/*`) is the one of
`rules.py`; entries may also carry, for Gemini: `"finish_reason": "SAFETY"` (the candidate ends
so, with no content unless canned), `"block_reason": "SAFETY"` (a `promptFeedback` reply without
candidates), `"thought": "..."` (a thought part before the answer).

Like Gemini 2.x, function calls carry no `id` unless a canned call sets one; the first call of a
reply carries a `thoughtSignature` of its own, as Gemini 3 sends it (a Gemini 3 text answer has
its signature on its last part: in a stream, on a last, empty one). With
`thinkingConfig.includeThoughts` a reply starts with a thought summary ("I think about: …",
`thought: true`) and its usage counts `thoughtsTokenCount`. `gemini_rules.py` says what a
request is refused for (a Gemini 3 tool turn without its signatures, above all); a
`toolConfig.functionCallingConfig` mode ANY (with `allowedFunctionNames`) or NONE is the
request's tool choice. Errors have Google's shape `{"error": {"code", "message", "status"}}`.

Inline data (`inlineData`, or `inline_data` with `mime_type` as the SDK writes it inside a
part; base64 standard or URL-safe) is checked as Gemini checks it: a MIME type Gemini takes
(PNG, JPEG, WebP, HEIC, HEIF, PDF, plain text, audio, video: no GIF), an image whose bytes are
that image; a function response's `parts` inline only (URI data is not supported there on the
Developer API). Otherwise Google's 400.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .gemini_rules import Refused, Signatures, field, inline_media, problem, result_media, thinks
from .rules import (
    Call,
    FakeControl,
    FakeLLM,
    Reply,
    Result,
    Turn,
    Usage,
    thought,
    words,
)
from .server import FakeServer

__all__ = ["FakeGemini", "FakeGeminiControl", "create_app", "gemini_fake_server"]

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_NO_CALLER = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
_NO_CREDENTIAL = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential."
)


class FakeGemini:
    """The fake's state; `app` is the ASGI application."""

    def __init__(self, api_key: str | None = None, access_token: str | None = None) -> None:
        """`api_key` / `access_token`: the only ones accepted; None accepts any non-empty one."""
        self.api_key = api_key
        self.access_token = access_token
        self.llm = FakeLLM()
        self.signatures = Signatures()
        self._response_ids = itertools.count(1)
        models = "/{version}/models/{target}"
        vertex = "/{version}/projects/{project}/locations/{location}/publishers/google/models/"
        express = "/{version}/publishers/google/models/{target}"
        self.app = Starlette(
            routes=[
                Route(models, self._developer, methods=["POST"]),
                Route(vertex + "{target}", self._vertex, methods=["POST"]),
                Route(express, self._vertex, methods=["POST"]),
                *self.llm.routes(),
            ]
        )

    # --- Gemini API -----------------------------------------------------------------------

    async def _developer(self, request: Request) -> Response:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return _error(403, _NO_CALLER)
        if self.api_key is not None and key != self.api_key:
            return _error(400, "API key not valid. Please pass a valid API key.")
        return await self._generate(request)

    async def _vertex(self, request: Request) -> Response:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if key:
            if self.api_key is not None and key != self.api_key:
                return _error(400, "API key not valid. Please pass a valid API key.")
        elif not token:
            return _error(401, _NO_CREDENTIAL)
        elif self.access_token is not None and token != self.access_token:
            return _error(401, "Request had invalid authentication credentials.")
        return await self._generate(request)

    async def _generate(self, request: Request) -> Response:
        model, _, method = request.path_params["target"].rpartition(":")
        if method not in ("generateContent", "streamGenerateContent") or not model:
            return _error(404, f"Method not found: {request.path_params['target']}")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Invalid JSON payload received.")
        if not isinstance(body, dict) or not body.get("contents"):
            return _error(400, "* GenerateContentRequest.contents: contents is not specified")
        if not isinstance(body["contents"], list):
            return _error(400, "Invalid value at 'contents': expected a list")
        stream = method == "streamGenerateContent"
        if refused := problem(body, model, self.signatures):
            return _error(400, refused)
        try:
            turns = _turns(body)
        except Refused as refused_media:
            return _error(400, str(refused_media))
        entry = await self.llm.take(body, request)
        if "status" in entry:
            status = int(entry["status"])
            content = entry.get("body") or _error_body(status, f"canned error {status}")
            return JSONResponse(content, status_code=status, headers=entry.get("headers"))
        response_id = f"fake-response-{next(self._response_ids)}"
        base = {"modelVersion": model, "responseId": response_id}
        tools = [
            d.get("name", "")
            for tool in body.get("tools") or []
            for d in tool.get("functionDeclarations") or []
        ]
        reply = self.llm.reply(turns, tools, entry, _choice(body))
        config = field(body.get("generationConfig") or {}, "thinkingConfig") or {}
        summary = thought(turns) if field(config, "includeThoughts") else entry.get("thought")
        usage = _usage(self.llm.usage(turns, reply, entry), len(summary or "") // 4)
        if entry.get("malformed"):
            return self._send([base | {"usageMetadata": usage}], stream, truncate=False)
        if entry.get("block_reason"):
            feedback = {"blockReason": entry["block_reason"], "safetyRatings": []}
            chunk = base | {"promptFeedback": feedback, "usageMetadata": usage}
            return self._send([chunk], stream, truncate=False)
        canned_ids = {c.get("id") for c in entry.get("tool_calls") or [] if c.get("id")}
        # Before Gemini 3, a text answer carries no signature.
        parts = _parts(reply, canned_ids, summary, self.signatures.issue(), thinks(model))
        if entry.get("finish_reason") and not ("content" in entry or "tool_calls" in entry):
            parts = []
        finish = entry.get("finish_reason") or "STOP"
        truncate = bool(entry.get("truncate"))
        if not stream:
            candidate = _candidate(parts, finish)
            chunk = base | {"candidates": [candidate], "usageMetadata": usage}
            return self._send([chunk], stream, truncate=truncate)
        # Like Gemini: text in pieces, each call whole, the prompt count on every chunk, the
        # finish reason and the whole usage on the last; a cut stream never gets there.
        pieces: list[list[dict[str, Any]]] = []
        for part in parts:
            if "text" in part and not part.get("thought"):
                pieces += [[{"text": word}] for word in words(part["text"])]
                if "thoughtSignature" in part:  # on a last, empty part, as streams have it
                    pieces.append([{"text": "", "thoughtSignature": part["thoughtSignature"]}])
            else:
                pieces.append([part])
        if truncate:
            pieces = pieces[: len(pieces) // 2]
        chunks = [
            base | {"candidates": [_candidate(piece)], "usageMetadata": _prompt_only(usage)}
            for piece in pieces
        ]
        if not truncate:
            last = pieces[-1] if pieces else []
            chunks[-1:] = [
                base | {"candidates": [_candidate(last, finish)], "usageMetadata": usage}
            ]
        return self._send(chunks, stream, truncate=False)

    def _send(self, chunks: list[dict[str, Any]], stream: bool, *, truncate: bool) -> Response:
        """`chunks` as one JSON reply (the first; cut in half if `truncate`) or as SSE."""
        if not stream:
            if truncate:
                text = json.dumps(chunks[0])
                return Response(text[: len(text) // 2], media_type="application/json")
            return JSONResponse(chunks[0])

        async def events() -> AsyncIterator[str]:
            for chunk in chunks:
                yield f"data: {json.dumps(chunk)}\r\n\r\n"
                await self.llm.pause()

        return StreamingResponse(events(), media_type="text/event-stream")


def _turns(body: dict[str, Any]) -> list[Turn]:
    """The request as the vendor-neutral conversation of `rules.py` (`Refused` when Gemini
    would refuse it)."""
    turns: list[Turn] = []
    system = body.get("systemInstruction") or {}
    if system_text := _text(system.get("parts")):
        turns.append(Turn("system", system_text))
    for i, content in enumerate(body["contents"]):
        parts = content.get("parts") or []
        where = f"contents[{i}]"
        results = [field(p, "functionResponse") for p in parts if field(p, "functionResponse")]
        if results:
            media = [
                mime
                for k, p in enumerate(parts)
                if field(p, "functionResponse")
                for mime in result_media(
                    field(p, "functionResponse"), f"{where}.parts[{k}].function_response"
                )
            ]
            turns.append(
                Turn("tool", _text(parts), tool_results=[_result(r) for r in results], media=media)
            )
        elif content.get("role") == "model":
            calls = [field(p, "functionCall") for p in parts if field(p, "functionCall")]
            tool_calls = [
                Call(c.get("name", ""), json.dumps(c.get("args") or {}), c.get("id", ""))
                for c in calls
            ]
            turns.append(Turn("assistant", _text(parts), tool_calls=tool_calls))
        else:
            turns.append(Turn("user", _text(parts), media=inline_media(parts, where)))
    return turns


def _text(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict) and not p.get("thought"))


def _result(response: dict[str, Any]) -> Result:
    value = response.get("response") or {}
    is_error = "error" in value
    for key in ("error", "output", "result"):
        if isinstance(value.get(key), str):
            content = value[key]
            break
    else:
        content = json.dumps(value)
    name = response.get("name", "")
    return Result(content, name=name, call_id=response.get("id", ""), is_error=is_error)


def _choice(body: dict[str, Any]) -> str | None:
    """The request's tool choice in the rules' words (None: auto)."""
    config = field(body.get("toolConfig") or {}, "functionCallingConfig") or {}
    mode = str(config.get("mode", "AUTO")).upper()
    names = field(config, "allowedFunctionNames") or []
    if mode == "NONE":
        return "none"
    if mode == "ANY":
        return names[0] if names else "required"
    return None


def _parts(
    reply: Reply, canned_ids: set[str], summary: str | None, signature: str, signed_text: bool
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": summary, "thought": True}] if summary else []
    if reply.text:
        parts.append({"text": reply.text})
        if signed_text and not reply.tool_calls:
            parts[-1]["thoughtSignature"] = signature
    for index, call in enumerate(reply.tool_calls):
        try:
            args: Any = json.loads(call.arguments)
        except ValueError:
            args = call.arguments
        function_call: dict[str, Any] = {"name": call.name, "args": args}
        if call.id in canned_ids:
            function_call["id"] = call.id
        part: dict[str, Any] = {"functionCall": function_call}
        if index == 0:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _candidate(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if parts:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish:
        candidate["finishReason"] = finish
    return candidate


def _usage(usage: Usage, thoughts: int = 0) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": usage.completion_tokens,
        "totalTokenCount": usage.total_tokens + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.prompt_tokens}],
    }
    if thoughts:
        metadata["thoughtsTokenCount"] = thoughts
    if usage.cache_read_tokens:
        metadata["cachedContentTokenCount"] = usage.cache_read_tokens
    return metadata


def _prompt_only(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = usage["promptTokenCount"]
    return {"promptTokenCount": prompt, "totalTokenCount": prompt}


def _error_body(status: int, message: str) -> dict[str, Any]:
    name = _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": name}}


def _error(status: int, message: str) -> Response:
    return JSONResponse(_error_body(status, message), status_code=status)


class FakeGeminiControl(FakeControl):
    """Drives a running fake over HTTP: `FakeGeminiControl(server.base_url)`."""


def create_app(api_key: str | None = None, access_token: str | None = None) -> Starlette:
    """A new fake's ASGI app; serve it with `FakeServer(app)` and use its URL as `base_url`."""
    return FakeGemini(api_key, access_token).app


class _NoDelayServer(FakeServer):
    """A `FakeServer` whose connections send at once: uvicorn writes a response's head and
    body apart, and with Nagle on, every request after the first on a kept-alive connection
    waits ~40 ms for the client's delayed ACK."""

    def start(self, timeout: float = 10.0) -> None:
        super().start(timeout)
        if self._socket is not None:  # accepted connections inherit the option
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def gemini_fake_server(api_key: str | None = None, access_token: str | None = None) -> FakeServer:
    """A `FakeServer` running a new fake; its `.url` is the SDK's `base_url`."""
    return _NoDelayServer(create_app(api_key, access_token))
