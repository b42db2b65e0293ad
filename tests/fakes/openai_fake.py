"""A local OpenAI-compatible server: Chat Completions (JSON and SSE), the Responses API
(`responses_fake.py`) and the model list, at OpenAI's paths (`/v1/...`) and at Azure OpenAI's
(`/openai/deployments/{deployment}/chat/completions?api-version=...`,
`/openai/responses?api-version=...` with the deployment as `model`).

Chat Completions refuses what OpenAI refuses: `tool_choice` or `parallel_tool_calls` without
`tools`, and `reasoning_effort` for a model that is not a reasoning model (o-series, gpt-5).
A request's `tool_choice` is the rules' tool choice. Usage reports `cache_write_tokens` (an
entry's `"cache_creation_tokens": n`) beside `cached_tokens`.

Replies follow the vendor-neutral rules of `rules.py` (tool call ids `call_1`, `call_2`, …),
and the fake has the `/_fake/*` control API described there. Each recorded Azure request also
has `"_azure": {"deployment": ..., "api_version": ..., "auth": "api-key" | "bearer"}`.

Content parts are checked as OpenAI checks them (`openai_parts.py`): images and files in user
messages only, each in its documented form, else OpenAI's 400 naming the part
(`messages[i].content[j]…`). A user message with images or files right after
tool messages is read as those results' files (how our adapter sends a tool's images).

Auth: OpenAI paths take `Authorization: Bearer <key>`; Azure paths take `api-key: <key>` or
`Authorization: Bearer <Entra ID token>`. Azure paths answer 404 `DeploymentNotFound` for a
deployment not in `deployments` (when given) and 404 without `api-version`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .openai_access import azure_access, check_bearer, error, error_body
from .openai_parts import Refused, chat_turns
from .responses_fake import ResponsesWire
from .rules import FakeControl, FakeLLM, Reply, Usage, words
from .server import FakeServer

__all__ = ["FakeOpenAI", "FakeOpenAIControl", "create_app", "openai_fake_server"]

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "fake-model")
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


class FakeOpenAI:
    """The fake's state and wire format; `app` is the ASGI application."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        ad_token: str | None = None,
        deployments: tuple[str, ...] | None = None,
    ) -> None:
        """`api_key` / `ad_token`: the only key / Entra ID token accepted, None accepts any
        non-empty one; `deployments`: the Azure deployments that exist, None for any."""
        self.api_key = api_key
        self.ad_token = ad_token
        self.deployments = deployments
        self.llm = FakeLLM(call_id_prefix="call_")
        self.responses = ResponsesWire(self.llm)
        self._completion_ids = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai_completions, methods=["POST"]),
                Route("/v1/responses", self._openai_responses, methods=["POST"]),
                Route("/openai/responses", self._azure_responses, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route(
                    "/openai/deployments/{deployment}/chat/completions",
                    self._azure_completions,
                    methods=["POST"],
                ),
                *self.llm.routes(),
            ]
        )

    # --- OpenAI and Azure routes ----------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        if denied := check_bearer(request, self.api_key):
            return denied
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in MODELS
        ]
        return JSONResponse({"object": "list", "data": data})

    async def _openai_completions(self, request: Request) -> Response:
        if denied := check_bearer(request, self.api_key):
            return denied
        return await self._completions(request, {})

    async def _openai_responses(self, request: Request) -> Response:
        if denied := check_bearer(request, self.api_key):
            return denied
        return await self.responses.answer(request, await _json(request), {})

    async def _azure_responses(self, request: Request) -> Response:
        body = await _json(request)
        deployment = body.get("model") if isinstance(body, dict) else None
        denied, azure = azure_access(
            request, str(deployment), self.api_key, self.ad_token, self.deployments
        )
        if denied is not None:
            return denied
        return await self.responses.answer(request, body, {"_azure": azure})

    def _azure(self, request: Request, deployment: str) -> tuple[Response | None, dict[str, Any]]:
        return azure_access(request, deployment, self.api_key, self.ad_token, self.deployments)

    async def _azure_completions(self, request: Request) -> Response:
        deployment = request.path_params["deployment"]
        denied, azure = azure_access(
            request, deployment, self.api_key, self.ad_token, self.deployments
        )
        if denied is not None:
            return denied
        return await self._completions(request, {"_azure": azure}, default_model=deployment)

    async def _completions(
        self, request: Request, extra: dict[str, Any], default_model: str | None = None
    ) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "We could not parse the JSON body of your request.")
        if isinstance(body, dict) and default_model is not None:
            body.setdefault("model", default_model)
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return error(400, "you must provide a model parameter", param="model")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return error(400, "'messages' must be a non-empty array", param="messages")
        if refused := _problem(body):
            return error(400, refused[0], param=refused[1])
        if problem := _unanswered(body["messages"]):
            return error(400, problem, param="messages")
        try:
            turns = chat_turns(body["messages"])
        except Refused as bad_part:
            return error(400, bad_part.message, param=bad_part.param, code=bad_part.code)
        entry = await self.llm.take(body | extra, request)
        if "status" in entry:
            status = int(entry["status"])
            content = entry.get("body") or error_body(status, f"canned error {status}")
            return JSONResponse(content, status_code=status, headers=entry.get("headers"))
        if entry.get("malformed"):
            return JSONResponse({"id": "chatcmpl-bad", "object": "chat.completion"})
        tools = [t["function"]["name"] for t in body.get("tools") or [] if "function" in t]
        reply = self.llm.reply(turns, tools, entry, _choice(body.get("tool_choice")))
        usage = (
            _usage(self.llm.usage(turns, reply, entry), entry) if entry.get("usage", True) else None
        )
        truncate = bool(entry.get("truncate"))
        fault = entry.get("fault")
        completion_id = f"chatcmpl-{next(self._completion_ids)}"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = self._stream(
                completion_id, body["model"], reply, usage if include_usage else None, truncate
            )
            if fault:
                events = _faulty(events, fault)
            return StreamingResponse(events, media_type="text/event-stream")
        if fault == "garbage":
            return Response(b"\x00{{not json at all", media_type="application/json")
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
                    "finish_reason": _finish_reason(reply),
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
        reply: Reply,
        usage: dict[str, Any] | None,
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
            data |= {"usage": None} if usage is not None else {}
            return f"data: {json.dumps(data | extra)}\n\n"

        def delta(value: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": value, "logprobs": None, "finish_reason": finish}]

        # Like OpenAI: the first delta has the role (and, without text, the first tool call).
        role: dict[str, Any] = {
            "role": "assistant",
            "content": "" if reply.text else None,
            "refusal": None,
        }
        deltas: list[dict[str, Any]] = [role]
        deltas += [{"content": word} for word in words(reply.text)]
        for index, call in enumerate(reply.tool_calls):
            first = {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            if len(deltas) == 1 and "tool_calls" not in role:
                role["tool_calls"] = [{"index": index, **first}]
            else:
                deltas.append({"tool_calls": [{"index": index, **first}]})
            for i in range(0, len(call.arguments), 8):
                piece = {"index": index, "function": {"arguments": call.arguments[i : i + 8]}}
                deltas.append({"tool_calls": [piece]})
        if truncate:
            deltas = deltas[: max(2, len(deltas) // 2)]
        for value in deltas:
            yield chunk(delta(value))
            await self.llm.pause()
        if truncate:
            return
        yield chunk(delta({}, _finish_reason(reply)))
        if usage is not None:
            await self.llm.pause()
            yield chunk([], usage=usage)
        yield "data: [DONE]\n\n"


# --- OpenAI wire format <-> neutral turns ----------------------------------------------------


async def _faulty(events: AsyncIterator[str], fault: str) -> AsyncIterator[str]:
    """The first two chunks of `events`, then the fault: `cut` drops the connection (no
    end of the chunked body), `garbage` sends a chunk that is not JSON, `error` an error
    event as OpenAI sends one when the server fails mid-answer, `shape` a chunk whose
    `choices` is not a list, `stall` sends nothing more for an hour."""
    for _ in range(2):
        yield await anext(events)
    if fault == "cut":
        raise ConnectionResetError("fake: connection cut mid-stream")
    if fault == "garbage":
        yield "data: {not json at all\n\n"
        async for event in events:
            yield event
        return
    if fault == "error":
        error = {"message": "The server had an error while processing your request.",
                 "type": "server_error", "param": None, "code": None}  # fmt: skip
        yield f"data: {json.dumps({'error': error})}\n\n"
        return
    if fault == "shape":
        yield f"data: {json.dumps({'id': 'chatcmpl-bad', 'choices': {'delta': 'x'}})}\n\n"
        return
    await asyncio.sleep(3600)


def _unanswered(messages: list[dict[str, Any]]) -> str | None:
    """OpenAI's rule (its 400s' words): a tool message answers a call of the assistant
    message before it, and every such call is answered before the next other message."""
    waiting: list[str] = []
    for message in [*messages, {"role": "end"}]:
        role = message.get("role")
        if role == "tool":
            if message.get("tool_call_id") not in waiting:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'."
                )
            waiting.remove(message["tool_call_id"])
            continue
        if waiting:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(waiting)}"
            )
        if role == "assistant":
            waiting = [str(c.get("id")) for c in message.get("tool_calls") or []]
    return None


def _finish_reason(reply: Reply) -> str:
    return "tool_calls" if reply.tool_calls else "stop"


def _message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    return message


def _usage(usage: Usage, entry: dict[str, Any]) -> dict[str, Any]:
    written = min(
        usage.prompt_tokens - usage.cache_read_tokens, entry.get("cache_creation_tokens", 0)
    )
    details = {"cached_tokens": usage.cache_read_tokens, "cache_write_tokens": written}
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": details | {"audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _problem(body: dict[str, Any]) -> tuple[str, str] | None:
    """What Chat Completions refuses about tools and reasoning (message, param), or None."""
    if not body.get("tools"):
        for param in ("tool_choice", "parallel_tool_calls"):
            if param in body:
                return (
                    f"Invalid value for '{param}': '{param}' is only allowed when 'tools' are "
                    "specified.",
                    param,
                )
    if "reasoning_effort" in body and not _REASONING_MODEL.match(str(body["model"])):
        unsupported = "Unsupported parameter: 'reasoning_effort' is not supported with this model."
        return unsupported, "reasoning_effort"
    return None


def _choice(tool_choice: Any) -> str | None:
    """`tool_choice` in the rules' words: None (auto), "none", "required" or a tool's name."""
    if isinstance(tool_choice, dict):
        return str((tool_choice.get("function") or {}).get("name")) or None
    return tool_choice if tool_choice in ("none", "required") else None


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


class FakeOpenAIControl(FakeControl):
    """Drives a running fake over HTTP: `FakeOpenAIControl(server.base_url)` (or `.url`)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url.rstrip("/").removesuffix("/v1"))


def create_app(
    api_key: str | None = None,
    *,
    ad_token: str | None = None,
    deployments: Iterable[str] | None = None,
) -> Starlette:
    """A new fake's ASGI app; serve it with `FakeServer(app, path="/v1")`."""
    names = tuple(deployments) if deployments is not None else None
    return FakeOpenAI(api_key, ad_token=ad_token, deployments=names).app


def openai_fake_server(api_key: str | None = None, **options: Any) -> FakeServer:
    """A `FakeServer` running a new fake; its `.url` is the `/v1` base URL."""
    return FakeServer(create_app(api_key, **options), path="/v1")
