"""OpenAI's Responses API for the OpenAI wire fake (`openai_fake.py` serves it at
`/v1/responses`, and at Azure's `/openai/responses?api-version=…`): JSON and SSE, replies by
the neutral rules of `rules.py` (and its control API, shared with the chat path).

What it checks, as OpenAI documents and answers (the texts are the API's, seen in the wild):
- reasoning models (o-series, gpt-5) answer with a reasoning item `rs_N` first, with an
  `encrypted_content` (opaque, bound to the model and the item) when the request includes
  `reasoning.encrypted_content`, and a summary when it asks for one (`reasoning.summary`).
  Sent back, such an item must be unchanged ("The encrypted content for item … could not be
  verified."), carry its encrypted content under `store: false` ("Item with id 'rs_…' not
  found. Items are not persisted when `store` is set to false. …"), and be followed by the
  item that followed it; a `function_call` sent with the id the fake gave it must come after
  the reasoning item that preceded it ("Item 'fc_…' of type 'function_call' was provided
  without its required 'reasoning' item: 'rs_…'.");
- a non-reasoning model refuses `include: ["reasoning.encrypted_content"]` ("Encrypted
  content is not supported with this model.") and `reasoning`; no model takes `stop`;
- every `function_call_output` answers a `function_call` of the input;
- images and files (`input_image`, `input_file`) in a user message's content and in a
  `function_call_output`'s output list only, each in its documented form (`openai_parts.py`).

Entries may also carry `"stream_error": "server_error"` (an `error` event mid-stream),
`"failed": "server_error"` (a failed response), `"incomplete": "max_output_tokens"`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .openai_access import error, error_body
from .openai_parts import Refused, responses_media
from .rules import Call, FakeLLM, Reply, Result, Turn, Usage, thought, words

__all__ = ["ResponsesWire"]

_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


class ResponsesWire:
    """The Responses API's state: the items it issued, and what must come with them."""

    def __init__(self, llm: FakeLLM) -> None:
        self.llm = llm
        self._key = secrets.token_bytes(16)
        self._ids = itertools.count(1)
        self._issued: dict[str, str] = {}  # rs_N -> its encrypted content
        self._follows: dict[str, str] = {}  # rs_N -> the id of the item after it
        self._needs: dict[str, str] = {}  # fc_N -> the reasoning item before it

    async def answer(self, request: Request, body: Any, extra: dict[str, Any]) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return error(400, "Missing required parameter: 'model'.", param="model")
        items = body.get("input")
        items = [{"role": "user", "content": items}] if isinstance(items, str) else items
        if not isinstance(items, list):
            message = "Invalid type for 'input': expected a string or an array."
            return error(400, message, param="input")
        if refused := self._problem(body, items):
            return error(400, refused[0], param=refused[1])
        try:
            media = [responses_media(n, item) for n, item in enumerate(items)]
        except Refused as bad_part:
            return error(400, bad_part.message, param=bad_part.param, code=bad_part.code)
        entry = await self.llm.take(body | extra, request)
        if "status" in entry:
            status = int(entry["status"])
            content = entry.get("body") or error_body(status, f"canned error {status}")
            return JSONResponse(content, status_code=status, headers=entry.get("headers"))
        turns = _turns(body, items, media)
        tools = [t.get("name", "") for t in body.get("tools") or [] if t.get("type") == "function"]
        reply = self.llm.reply(turns, tools, entry, _choice(body.get("tool_choice")))
        response = self._response(body, turns, reply, self.llm.usage(turns, reply, entry), entry)
        if not body.get("stream"):
            return JSONResponse(response)
        return StreamingResponse(self._events(response, entry), media_type="text/event-stream")

    # --- checks ---------------------------------------------------------------------------

    def _problem(self, body: dict[str, Any], items: list[Any]) -> tuple[str, str] | None:
        model = body["model"]
        reasons = bool(_REASONING_MODEL.match(model))
        if "stop" in body:
            return "Unsupported parameter: 'stop' is not supported with this model.", "stop"
        if "reasoning.encrypted_content" in (body.get("include") or []) and not reasons:
            return "Encrypted content is not supported with this model.", "include"
        if body.get("reasoning") and not reasons:
            unsupported = (
                "Unsupported parameter: 'reasoning.effort' is not supported with this model."
            )
            return unsupported, "reasoning.effort"
        calls: set[str] = set()
        seen: list[str] = []
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                return f"Invalid type for 'input[{n}]': expected an object.", f"input[{n}]"
            kind, item_id = item.get("type", "message"), item.get("id")
            if kind == "reasoning":
                if item_id not in self._issued:
                    return f"Item with id '{item_id}' not found.", "input"
                if "encrypted_content" not in item and body.get("store") is False:
                    return (
                        f"Item with id '{item_id}' not found. Items are not persisted when "
                        "`store` is set to false. Try again with `store` set to true, or "
                        "remove this item from your input.",
                        "input",
                    )
                if item.get("encrypted_content") != self._issued[item_id]:
                    return (
                        f"The encrypted content for item {item_id} could not be verified.",
                        "input",
                    )
                after = items[n + 1] if n + 1 < len(items) else {}
                if after.get("id") != self._follows.get(item_id):
                    return (
                        f"Item '{item_id}' of type 'reasoning' was provided without its "
                        "required following item.",
                        "input",
                    )
            if kind == "function_call":
                calls.add(str(item.get("call_id")))
                needed = self._needs.get(str(item_id))
                if needed is not None and needed not in seen:
                    return (
                        f"Item '{item_id}' of type 'function_call' was provided without its "
                        f"required 'reasoning' item: '{needed}'.",
                        "input",
                    )
            if kind == "function_call_output" and item.get("call_id") not in calls:
                return (
                    "No tool call found for function call output with call_id "
                    f"{item.get('call_id')}.",
                    "input",
                )
            if item_id:
                seen.append(str(item_id))
        return None

    # --- replies --------------------------------------------------------------------------

    def _response(
        self,
        body: dict[str, Any],
        turns: list[Turn],
        reply: Reply,
        usage: Usage,
        entry: dict[str, Any],
    ) -> dict[str, Any]:
        model = body["model"]
        output: list[dict[str, Any]] = []
        summary = thought(turns)
        reasoning_tokens = 0
        if _REASONING_MODEL.match(model):
            rs = f"rs_{next(self._ids)}"
            item: dict[str, Any] = {"id": rs, "type": "reasoning", "summary": []}
            if (body.get("reasoning") or {}).get("summary"):
                item["summary"] = [{"type": "summary_text", "text": summary}]
            mac = hmac.new(self._key, f"{model}/{rs}".encode(), hashlib.sha256).digest()
            self._issued[rs] = base64.b64encode(mac).decode()
            if "reasoning.encrypted_content" in (body.get("include") or []):
                item["encrypted_content"] = self._issued[rs]
            output.append(item)
            reasoning_tokens = len(summary) // 4
        if reply.text:
            content = [{"type": "output_text", "text": reply.text, "annotations": []}]
            output.append(
                {
                    "id": f"msg_{next(self._ids)}",
                    "type": "message",
                    "role": "assistant",
                    "status": "completed",
                    "content": content,
                }
            )
        for call in reply.tool_calls:
            output.append(
                {
                    "id": f"fc_{next(self._ids)}",
                    "type": "function_call",
                    "status": "completed",
                    "call_id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
        if output and output[0]["type"] == "reasoning" and len(output) > 1:
            self._follows[output[0]["id"]] = output[1]["id"]
            for item in output[1:]:
                if item["type"] == "function_call":
                    self._needs[item["id"]] = output[0]["id"]
        status, error, incomplete = "completed", None, None
        if entry.get("failed"):
            status, error = "failed", {"code": entry["failed"], "message": "canned failure"}
        elif entry.get("incomplete"):
            status, incomplete = "incomplete", {"reason": entry["incomplete"]}
        return {
            "id": f"resp_{next(self._ids)}",
            "object": "response",
            "created_at": time.time(),
            "model": model,
            "status": status,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": body.get("instructions"),
            "metadata": {},
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "temperature": body.get("temperature"),
            "top_p": body.get("top_p"),
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "store": body.get("store", True),
            "usage": {
                "input_tokens": usage.prompt_tokens,
                "input_tokens_details": {
                    "cached_tokens": usage.cache_read_tokens,
                    "cache_write_tokens": 0,
                },
                "output_tokens": usage.completion_tokens + reasoning_tokens,
                "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
                "total_tokens": usage.total_tokens + reasoning_tokens,
            },
        }

    async def _events(self, response: dict[str, Any], entry: dict[str, Any]) -> AsyncIterator[str]:
        numbers = itertools.count()

        def event(kind: str, **data: Any) -> str:
            payload = {"type": kind, "sequence_number": next(numbers), **data}
            return f"event: {kind}\ndata: {json.dumps(payload)}\n\n"

        started = response | {"status": "in_progress", "output": [], "usage": None}
        yield event("response.created", response=started)
        yield event("response.in_progress", response=started)
        for index, item in enumerate(response["output"]):
            await self.llm.pause()
            where = {"item_id": item["id"], "output_index": index}
            if item["type"] == "message":
                yield event(
                    "response.output_item.added",
                    output_index=index,
                    item=item | {"content": [], "status": "in_progress"},
                )
                text = item["content"][0]["text"]
                for n, piece in enumerate(words(text)):
                    yield event(
                        "response.output_text.delta",
                        **where,
                        content_index=0,
                        delta=piece,
                        logprobs=[],
                    )
                    if n == 1 and entry.get("stream_error"):
                        yield event(
                            "error",
                            code=entry["stream_error"],
                            message="canned stream error",
                            param=None,
                        )
                        return
                    await self.llm.pause()
                yield event(
                    "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
                )
            elif item["type"] == "reasoning":
                yield event(
                    "response.output_item.added", output_index=index, item=item | {"summary": []}
                )
                for part in item["summary"]:
                    for piece in words(part["text"]):
                        yield event(
                            "response.reasoning_summary_text.delta",
                            **where,
                            summary_index=0,
                            delta=piece,
                        )
            else:
                yield event(
                    "response.output_item.added", output_index=index, item=item | {"arguments": ""}
                )
                raw = item["arguments"]
                for i in range(0, len(raw), 8):
                    yield event(
                        "response.function_call_arguments.delta", **where, delta=raw[i : i + 8]
                    )
            yield event("response.output_item.done", output_index=index, item=item)
        if entry.get("truncate"):
            return
        final = {"completed": "response.completed", "failed": "response.failed"}
        yield event(final.get(response["status"], "response.incomplete"), response=response)


def _choice(tool_choice: Any) -> str | None:
    if isinstance(tool_choice, dict):
        return str(tool_choice.get("name")) if tool_choice.get("type") == "function" else None
    return tool_choice if tool_choice in ("none", "required") else None


def _turns(body: dict[str, Any], items: list[dict[str, Any]], media: list[list[str]]) -> list[Turn]:
    """The input as the neutral conversation of `rules.py` (`media`: each item's images and
    files, by their media types)."""
    turns = [Turn("system", body["instructions"])] if body.get("instructions") else []
    for item, found in zip(items, media, strict=True):
        kind = item.get("type", "message")
        if kind == "message":
            turns.append(Turn(str(item.get("role")), _text(item.get("content")), media=found))
        elif kind == "function_call":
            if not turns or turns[-1].role != "assistant":
                turns.append(Turn("assistant"))
            call = Call(
                str(item.get("name")), str(item.get("arguments", "")), str(item.get("call_id"))
            )
            turns[-1].tool_calls.append(call)
        elif kind == "function_call_output":
            result = Result(_text(item.get("output")), call_id=str(item.get("call_id")))
            turns.append(Turn("tool", tool_results=[result], media=found))
    return turns


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
