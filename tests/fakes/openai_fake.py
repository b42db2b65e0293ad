"""A local OpenAI-compatible server: Chat Completions (JSON and SSE) and the model list.

Replies follow rules on the received conversation, so a real agent loop can run against it:

1. the first user message contains "[loop]" and there are tools → a tool call, always;
2. the last message is `user`, there are tools and the text lacks "[no tools]" → a call to
   the first tool (to the first two with "[two tools]"), arguments `{"query": <user text>}`;
3. the last message is `tool` → "Tool results: name=content | …" over the trailing results;
4. otherwise → "Echo: <last user text>".

Tool call ids are `call_1`, `call_2`, … per fake instance. Usage counts characters / 4: the
prompt over all message contents, the completion over the reply text, or the tool names and
arguments (each at least 1).

Control, over HTTP so that other processes can use it too (no auth on these):
- `POST /_fake/enqueue` a list of entries, consumed one per completion request before the
  rules: `{"status": 429, "headers": {...}, "body": {...}}` (any status; 4xx/5xx get an
  OpenAI error body when `body` is left out), `{"truncate": true}` (a stream stops before
  `finish_reason` and `[DONE]`; a JSON reply is cut in half), `{"malformed": true}` (200
  without `choices`), `{"content": "...", "tool_calls": [{"name": ..., "arguments": ...}]}`
  (a canned reply; `arguments` a string is sent as is). Any entry may add `"delay": seconds`.
- `POST /_fake/config` `{"chunk_delay": 0.05}`: seconds between stream chunks.
- `GET /_fake/requests`: the completion request bodies received; `POST /_fake/reset`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .server import FakeServer

__all__ = ["FakeOpenAI", "FakeOpenAIControl", "create_app", "openai_fake_server"]

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "fake-model")
_ERROR_TYPES = {401: "invalid_request_error", 429: "requests", 500: "server_error"}


@dataclass
class _Reply:
    content: str | None = None
    tool_calls: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, arguments

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"

    def size(self) -> int:
        return len(self.content or "") + sum(len(n) + len(a) for _, n, a in self.tool_calls)


class FakeOpenAI:
    """The fake's state and rules; `app` is the ASGI application."""

    def __init__(self, api_key: str | None = None) -> None:
        """`api_key`: the only key accepted; None accepts any non-empty bearer token."""
        self.api_key = api_key
        self._call_ids = itertools.count(1)
        self._completion_ids = itertools.count(1)
        self.requests: list[dict[str, Any]] = []
        self.queue: list[dict[str, Any]] = []
        self.chunk_delay = 0.0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/_fake/enqueue", self._enqueue, methods=["POST"]),
                Route("/_fake/config", self._config, methods=["POST"]),
                Route("/_fake/requests", self._requests, methods=["GET"]),
                Route("/_fake/reset", self._reset, methods=["POST"]),
            ]
        )

    # --- OpenAI API -----------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        if denied := self._check_auth(request):
            return denied
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in MODELS
        ]
        return JSONResponse({"object": "list", "data": data})

    async def _completions(self, request: Request) -> Response:
        if denied := self._check_auth(request):
            return denied
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _error(400, "you must provide a model parameter", param="model")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(400, "'messages' must be a non-empty array", param="messages")
        self.requests.append(body)
        canned = self.queue.pop(0) if self.queue else {}
        if canned.get("delay"):
            await asyncio.sleep(float(canned["delay"]))
        if "status" in canned:
            status = int(canned["status"])
            content = canned.get("body") or _error_body(status, f"canned error {status}")
            return JSONResponse(content, status_code=status, headers=canned.get("headers"))
        if canned.get("malformed"):
            return JSONResponse({"id": "chatcmpl-bad", "object": "chat.completion"})
        canned_reply = "content" in canned or "tool_calls" in canned
        reply = self._canned_reply(canned) if canned_reply else self._rule_reply(body)
        truncate = bool(canned.get("truncate"))
        completion_id = f"chatcmpl-{next(self._completion_ids)}"
        usage = {
            "prompt_tokens": max(
                1, sum(len(_text(m.get("content"))) for m in body["messages"]) // 4
            ),
            "completion_tokens": max(1, reply.size() // 4),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = self._stream(
                completion_id, body["model"], reply, usage, include_usage, truncate
            )
            return StreamingResponse(events, media_type="text/event-stream")
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": _message(reply),
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": usage,
        }
        if truncate:
            text = json.dumps(completion)
            return Response(text[: len(text) // 2], media_type="application/json")
        return JSONResponse(completion)

    async def _stream(
        self,
        completion_id: str,
        model: str,
        reply: _Reply,
        usage: dict[str, int],
        include_usage: bool,
        truncate: bool,
    ) -> AsyncIterator[str]:
        def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": choices,
            }
            data |= {"usage": None} if include_usage else {}
            return f"data: {json.dumps(data | extra)}\n\n"

        def delta(value: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": value, "logprobs": None, "finish_reason": finish}]

        # Like OpenAI: the first delta has the role (and, without text, the first tool call).
        role: dict[str, Any] = {
            "role": "assistant",
            "content": "" if reply.content else None,
            "refusal": None,
        }
        deltas: list[dict[str, Any]] = [role]
        deltas += [{"content": word} for word in re.findall(r"\s*\S+\s*", reply.content or "")]
        for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
            first = {"id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            if len(deltas) == 1 and "tool_calls" not in role:
                role["tool_calls"] = [{"index": index, **first}]
            else:
                deltas.append({"tool_calls": [{"index": index, **first}]})
            for i in range(0, len(arguments), 8):
                piece = {"index": index, "function": {"arguments": arguments[i : i + 8]}}
                deltas.append({"tool_calls": [piece]})
        if truncate:
            deltas = deltas[: max(2, len(deltas) // 2)]
        for value in deltas:
            yield chunk(delta(value))
            await asyncio.sleep(self.chunk_delay)
        if truncate:
            return
        yield chunk(delta({}, reply.finish_reason))
        if include_usage:
            await asyncio.sleep(self.chunk_delay)
            yield chunk([], usage=usage)
        yield "data: [DONE]\n\n"

    def _check_auth(self, request: Request) -> Response | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if self.api_key is not None and key.strip() != self.api_key:
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        return None

    # --- the rules ------------------------------------------------------------------------

    def _rule_reply(self, body: dict[str, Any]) -> _Reply:
        messages: list[dict[str, Any]] = body["messages"]
        tools = [t["function"]["name"] for t in body.get("tools") or [] if "function" in t]
        users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
        user_text = users[-1] if users else ""
        last = messages[-1].get("role")
        looping = bool(tools) and bool(users) and "[loop]" in users[0]
        if looping or (last == "user" and tools and "[no tools]" not in user_text):
            count = 2 if "[two tools]" in user_text and len(tools) >= 2 else 1
            arguments = json.dumps({"query": user_text})
            return _Reply(tool_calls=[(self._call_id(), name, arguments) for name in tools[:count]])
        if last == "tool":
            return _Reply(content="Tool results: " + " | ".join(_tool_results(messages)))
        return _Reply(content="Echo: " + user_text)

    def _canned_reply(self, canned: dict[str, Any]) -> _Reply:
        calls = []
        for call in canned.get("tool_calls") or []:
            arguments = call.get("arguments", {})
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            calls.append((call.get("id") or self._call_id(), call["name"], arguments))
        content = canned.get("content")
        return _Reply(content=content if content or not calls else None, tool_calls=calls)

    def _call_id(self) -> str:
        return f"call_{next(self._call_ids)}"

    # --- control --------------------------------------------------------------------------

    async def _enqueue(self, request: Request) -> Response:
        entries = await request.json()
        entries = [entries] if isinstance(entries, dict) else entries
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            return JSONResponse({"error": "expected a list of objects"}, status_code=400)
        self.queue.extend(entries)
        return JSONResponse({"queued": len(self.queue)})

    async def _config(self, request: Request) -> Response:
        settings = await request.json()
        self.chunk_delay = float(settings.get("chunk_delay", self.chunk_delay))
        return JSONResponse({"chunk_delay": self.chunk_delay})

    async def _requests(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def _reset(self, request: Request) -> Response:
        self.requests.clear()
        self.queue.clear()
        self.chunk_delay = 0.0
        return JSONResponse({})


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _tool_results(messages: list[dict[str, Any]]) -> list[str]:
    """`name=content` for the tool messages at the end, names from the assistant's calls."""
    trailing: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        trailing.insert(0, message)
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            names[call.get("id", "")] = call.get("function", {}).get("name", "")
    results = []
    for message in trailing:
        call_id = message.get("tool_call_id", "")
        results.append(f"{names.get(call_id) or call_id}={_text(message.get('content'))}")
    return results


def _message(reply: _Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in reply.tool_calls
        ]
    return message


def _error_body(status: int, message: str, *, param: str | None = None, code: Any = None) -> Any:
    kind = _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _error(status: int, message: str, *, param: str | None = None, code: Any = None) -> Response:
    return JSONResponse(_error_body(status, message, param=param, code=code), status_code=status)


class FakeOpenAIControl:
    """Drives a running fake over HTTP: `FakeOpenAIControl(server.base_url)`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.removesuffix("/v1").rstrip("/")

    def enqueue(self, *entries: dict[str, Any]) -> None:
        httpx.post(f"{self.base_url}/_fake/enqueue", json=list(entries)).raise_for_status()

    def configure(self, *, chunk_delay: float) -> None:
        body = {"chunk_delay": chunk_delay}
        httpx.post(f"{self.base_url}/_fake/config", json=body).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base_url}/_fake/requests")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/_fake/reset").raise_for_status()


def create_app(api_key: str | None = None) -> Starlette:
    """A new fake's ASGI app; serve it with `FakeServer(app, path="/v1")`."""
    return FakeOpenAI(api_key).app


def openai_fake_server(api_key: str | None = None) -> FakeServer:
    """A `FakeServer` running a new fake; its `.url` is the `/v1` base URL."""
    return FakeServer(create_app(api_key), path="/v1")
