"""A local Anthropic Messages API server, as the `anthropic` SDK calls it, JSON and SSE:

- `POST /v1/messages` (the API; key in `x-api-key` as documented, or `Authorization: Bearer`,
  which is how `anthropic` 2.x sends `api_key`; `anthropic-version` header required);
- `POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict` and
  `:streamRawPredict` (Claude on Vertex AI: `Authorization: Bearer <token>`, the model in the
  URL, `anthropic_version` in the body; auth errors in Google's format).

Replies follow the rules of `rules.py` on the received conversation (a `user` message of
`tool_result` blocks is a tool turn; `system` is a system turn). Tool use ids are `toolu_1`, ….
Streams send the documented events: `message_start`, per block `content_block_start`, `ping`
after the first, `content_block_delta` (`text_delta` by word, `input_json_delta` in pieces of
8 characters after an empty one), `content_block_stop`, then `message_delta` (stop reason and
cumulative usage) and `message_stop`. Usage: `input_tokens` excludes cached prompt tokens, as
Anthropic counts them.

Requests are checked as the API does (`anthropic_rules.py`: the conversation's shape, images
and documents, cache breakpoints, and thinking — a thinking turn's signed blocks must come
back unchanged before the tool results that answer it). A failed check is a 400
`invalid_request_error`.

Thinking: with `thinking.type` `enabled` or `adaptive` a reply starts with a thinking block
("I think about: <user text>", signed for the model; streamed as `thinking_delta`s then a
`signature_delta` before `content_block_stop`), or with a `redacted_thinking` block when the
entry says `"redacted_thinking": true`. Prompt caching: `PromptCache` reports the cache reads
and writes of a request's breakpoints in its usage, unless an entry gives the counts.

The control API (`/_fake/*`) is the one of `rules.py`; entries may also carry, for Anthropic:
`"stop_reason": "refusal"` (or any stop reason, replacing the reply's; a refusal has
`stop_details`), `"cache_creation_tokens": n` (prompt tokens reported as written to the
cache), `"stream_error": "overloaded_error"` (a stream sends that `error` event after its
first delta; a JSON reply is that error's HTTP status). A canned tool call whose `arguments`
are not JSON sends them as is: a string `input` in JSON, raw `partial_json` in a stream.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .anthropic_rules import PromptCache, Signer, problem
from .rules import Call, FakeControl, FakeLLM, Reply, Result, Turn, Usage, thought, words
from .server import FakeServer

__all__ = ["FakeAnthropic", "FakeAnthropicControl", "anthropic_fake_server", "create_app"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_STATUS_OF = {kind: status for status, kind in _ERROR_TYPES.items()}
_NO_KEY = "x-api-key header is required"
_GOOGLE_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential."
)


class FakeAnthropic:
    """The fake's state; `app` is the ASGI application."""

    def __init__(self, api_key: str | None = None, access_token: str | None = None) -> None:
        """`api_key` / `access_token`: the only ones accepted; None accepts any non-empty one."""
        self.api_key = api_key
        self.access_token = access_token
        self.llm = FakeLLM(call_id_prefix="toolu_")
        self._ids = itertools.count(1)
        self.signer = Signer()
        self.cache = PromptCache()
        vertex = "/v1/projects/{project}/locations/{location}/publishers/anthropic/models/"
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route(vertex + "{target}", self._vertex, methods=["POST"]),
                *self.llm.routes(),
            ]
        )

    # --- the API --------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        key = request.headers.get("x-api-key") or (bearer if scheme.lower() == "bearer" else "")
        if not key.strip():
            return _error(401, _NO_KEY)
        if self.api_key is not None and key.strip() != self.api_key:
            return _error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "anthropic-version: header is required")
        body = await _json(request)
        if not isinstance(body, dict):
            return _error(400, "There was an error parsing the body of your request.")
        return await self._answer(request, body, body.get("model"), bool(body.get("stream")))

    async def _vertex(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _google_error(401, _GOOGLE_UNAUTHENTICATED, "UNAUTHENTICATED")
        if self.access_token is not None and token.strip() != self.access_token:
            return _google_error(401, _GOOGLE_UNAUTHENTICATED, "UNAUTHENTICATED")
        model, _, method = request.path_params["target"].rpartition(":")
        if method not in ("rawPredict", "streamRawPredict") or not model:
            return _google_error(404, f"Method not found: {method}", "NOT_FOUND")
        body = await _json(request)
        if not isinstance(body, dict):
            return _error(400, "There was an error parsing the body of your request.")
        if not body.get("anthropic_version"):
            return _error(400, "anthropic_version: Field required")
        stream = method == "streamRawPredict" or bool(body.get("stream"))
        return await self._answer(request, body, model, stream)

    async def _answer(
        self, request: Request, body: dict[str, Any], model: Any, stream: bool
    ) -> Response:
        if refused := problem(body, model, self.signer):
            return _error(400, refused)
        turns = _turns(body)
        entry = await self.llm.take(body, request)
        if "status" in entry:
            status = int(entry["status"])
            content = entry.get("body") or _error_body(status, f"canned error {status}")
            return JSONResponse(content, status_code=status, headers=entry.get("headers"))
        if entry.get("stream_error") and not stream:
            kind = str(entry["stream_error"])
            return _error(_STATUS_OF.get(kind, 500), f"canned {kind}", kind)
        message_id = f"msg_fake_{next(self._ids)}"
        if entry.get("malformed"):
            # No `content` and no `usage`; a stream of it ends without a stop reason.
            bare = {"id": message_id, "type": "message", "role": "assistant", "model": model}
            if not stream:
                return JSONResponse(bare)
            start: dict[str, Any] = {"type": "message_start", "message": bare}
            return self._stream([start, {"type": "message_stop"}])
        tools = [t.get("name", "") for t in body.get("tools") or []]
        reply = self.llm.reply(turns, tools, entry, _choice(body.get("tool_choice")))
        counted = self.llm.usage(turns, reply, entry)
        if "cache_read_tokens" not in entry and "cache_creation_tokens" not in entry:
            read, written = self.cache.answer(body, model)
            counted.cache_read_tokens = min(read, counted.prompt_tokens)
            entry = entry | {"cache_creation_tokens": written}
        usage = _usage(counted, entry)
        stop_reason = entry.get("stop_reason") or ("tool_use" if reply.tool_calls else "end_turn")
        stop_details = None
        if stop_reason == "refusal":
            stop_details = {"type": "refusal", "category": None, "explanation": "canned refusal"}
        message: dict[str, Any] = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": self._thinking(body, model, turns, entry) + _blocks(reply),
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "stop_details": stop_details,
            "usage": usage,
        }
        truncate = bool(entry.get("truncate"))
        if not stream:
            if truncate:
                text = json.dumps(message)
                return Response(text[: len(text) // 2], media_type="application/json")
            return JSONResponse(message)
        events = _events(message, reply)
        if entry.get("stream_error"):
            kind = str(entry["stream_error"])
            details = {"type": kind, "message": f"canned {kind}"}
            error: dict[str, Any] = {"type": "error", "error": details}
            events = [*events[:4], error]
        elif truncate:
            events = events[: max(3, len(events) // 2)]
        return self._stream(events)

    def _thinking(
        self, body: dict[str, Any], model: str, turns: list[Turn], entry: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The reply's thinking block, when the request asks for thinking."""
        if (body.get("thinking") or {}).get("type") not in ("enabled", "adaptive"):
            return []
        if entry.get("redacted_thinking"):
            return [{"type": "redacted_thinking", "data": self.signer.redacted(model)}]
        text = thought(turns)
        return [{"type": "thinking", "thinking": text, "signature": self.signer.sign(model, text)}]

    def _stream(self, events: list[dict[str, Any]]) -> Response:
        async def send() -> AsyncIterator[str]:
            for event in events:
                yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                await self.llm.pause()

        return StreamingResponse(send(), media_type="text/event-stream")


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _choice(tool_choice: Any) -> str | None:
    """`tool_choice` in the rules' words: None (auto), "none", "required" or a tool's name."""
    kind = str((tool_choice or {}).get("type"))
    if kind == "tool":
        return str(tool_choice.get("name"))
    return {"any": "required", "none": "none"}.get(kind)


def _media_of(blocks: Any) -> list[str]:
    """The media types of the image and document blocks among `blocks`."""
    found: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and block.get("type") in ("image", "document"):
            source = block.get("source") or {}
            found.append(str(source.get("media_type") or source.get("type")))
    return found


def _turns(body: dict[str, Any]) -> list[Turn]:
    """The request as the vendor-neutral conversation of `rules.py`."""
    turns: list[Turn] = []
    if system := _text(body.get("system")):
        turns.append(Turn("system", system))
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        text = _text(blocks)
        results = [
            Result(
                _text(b.get("content")), call_id=b["tool_use_id"], is_error=bool(b.get("is_error"))
            )
            for b in blocks
            if b.get("type") == "tool_result"
        ]
        calls = [
            Call(b["name"], json.dumps(b.get("input")), b["id"])
            for b in blocks
            if b.get("type") == "tool_use"
        ]
        role = "tool" if results else message["role"]
        media = _media_of(blocks)
        for b in blocks:
            if b.get("type") == "tool_result":
                media += _media_of(b.get("content"))
        turns.append(Turn(role, text, tool_calls=calls, tool_results=results, media=media))
    return turns


def _text(content: Any) -> str:
    """A string, or the text of a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if b.get("type") == "text")
    return ""


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    for call in reply.tool_calls:
        try:
            arguments: Any = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError:
            arguments = call.arguments
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


def _events(message: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    """The documented event sequence for `message`."""
    start = message | {"content": [], "stop_reason": None, "stop_details": None}
    start["usage"] = message["usage"] | {"output_tokens": 1}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    calls = {call.id: call for call in reply.tool_calls}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            first = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": w} for w in words(block["text"])]
        elif block["type"] == "thinking":
            first = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": w} for w in words(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif block["type"] == "redacted_thinking":
            first, deltas = block, []
        else:
            first = block | {"input": {}}
            raw = calls[block["id"]].arguments
            pieces = [""] + [raw[i : i + 8] for i in range(0, len(raw), 8)]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        events.append({"type": "content_block_start", "index": index, "content_block": first})
        if index == 0:
            events.append({"type": "ping"})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    delta = {
        "stop_reason": message["stop_reason"],
        "stop_sequence": None,
        "stop_details": message["stop_details"],
    }
    events.append({"type": "message_delta", "delta": delta, "usage": message["usage"]})
    events.append({"type": "message_stop"})
    return events


def _usage(usage: Usage, entry: dict[str, Any]) -> dict[str, Any]:
    cached = usage.cache_read_tokens
    created = min(usage.prompt_tokens - cached, int(entry.get("cache_creation_tokens", 0)))
    return {
        "input_tokens": usage.prompt_tokens - cached - created,
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": cached,
        "output_tokens": usage.completion_tokens,
    }


def _error_body(status: int, message: str, kind: str | None = None) -> dict[str, Any]:
    kind = kind or _ERROR_TYPES.get(
        status, "invalid_request_error" if status < 500 else "api_error"
    )
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}


def _error(status: int, message: str, kind: str | None = None) -> Response:
    return JSONResponse(_error_body(status, message, kind), status_code=status)


def _google_error(status: int, message: str, name: str) -> Response:
    body = {"error": {"code": status, "message": message, "status": name}}
    return JSONResponse(body, status_code=status)


class FakeAnthropicControl(FakeControl):
    """Drives a running fake over HTTP: `FakeAnthropicControl(server.base_url)`."""


def create_app(api_key: str | None = None, access_token: str | None = None) -> Starlette:
    """A new fake's ASGI app; serve it with `FakeServer(app)`: its URL is the SDK's `base_url`
    (for Claude on Vertex AI, the URL + `/v1`)."""
    return FakeAnthropic(api_key, access_token).app


def anthropic_fake_server(
    api_key: str | None = None, access_token: str | None = None
) -> FakeServer:
    """A `FakeServer` running a new fake."""
    return FakeServer(create_app(api_key, access_token))
