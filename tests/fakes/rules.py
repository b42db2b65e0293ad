"""What every LLM wire fake answers, in a vendor-neutral form, and its control API.

A vendor fake (`openai_fake.py`, …) only translates: it turns the request body into a list of
`Turn`s and tool names, asks `FakeLLM.reply()`, and writes the `Reply` in its vendor's format.
A turn that carries tool results has role "tool" (whatever the vendor calls it: an OpenAI
`tool` message, an Anthropic `user` message of `tool_result` blocks, Gemini
`functionResponse` parts); a system prompt sent outside the messages is a "system" turn.

The rules, on the neutral conversation:

1. the first user turn contains "[loop]" and there are tools → a tool call, always;
2. the last turn is `user`, there are tools and its text lacks "[no tools]" → a call to the
   first tool (to the first two with "[two tools]"), arguments `{"query": <user text>}`;
3. the last turn is `tool` → "Tool results: name=content | …" over its trailing results
   (a result without a name is named after the call with its `call_id`);
4. the last user text contains "[summarize]" (a summarizer's prompt) → "Summary: " and every
   fact the conversation states, "FACT <key>=<value>" each, in order, once;
5. the last user text contains "[recall <key>]" → "<key>=<value>" from the latest
   "FACT <key>=<value>" in the conversation it got (any turn: so a fact summarized away
   is recalled only when the summary carries it), else "<key> unknown";
6. otherwise → "Echo: <last user text>".

The request's tool choice, in the vendor's words, overrides rules 1-2: one that forces a call
(`required`, or a tool's name: a `Choice`) always gets a call (to that tool, or the first),
arguments `{"query": <user text>}`; `none` never gets one.

Tool call ids are `<prefix>1`, `<prefix>2`, … per fake. Usage counts characters / 4: the prompt
over all turn texts and tool result contents, the completion over the reply text, or the tool
names and arguments (each at least 1).

Control, the same for every vendor fake, over HTTP so that other processes can use it too (no
auth on these):
- `POST /_fake/enqueue` a list of entries, consumed one per completion request before the
  rules: `{"status": 429, "headers": {...}, "body": {...}}` (any status; without `body`, the
  vendor's error body with the message "canned error <status>"), `{"truncate": true}` (a
  stream stops before the vendor's end marker; a JSON reply is cut in half),
  `{"malformed": true}` (a 200 reply without the vendor's required content),
  `{"fault": "cut" | "garbage" | "stall"}` (OpenAI fake: a stream dropped after two chunks,
  a chunk that is not JSON, or a stream that stalls for an hour; `garbage` answers a JSON
  request with bytes that are not JSON), `{"usage": false}` (OpenAI fake: the reply reports
  no usage, not even in a stream that asks for it, as llama.cpp's server streams none),
  `{"content": "...", "tool_calls": [{"name": ..., "arguments": ..., "id": ...}]}` (a canned
  reply; `arguments` a string is sent as is, `id` optional). Any entry may add
  `"delay": seconds`, and one that gets a reply `"cache_read_tokens": n` (that many prompt
  tokens are reported as read from the vendor's prompt cache).
- `POST /_fake/config` `{"chunk_delay": 0.05}`: seconds between stream chunks;
  `{"hold": 0.3}`: seconds every completion request is held before it is answered (beside
  an entry's own `delay`), so that calls overlap as a slow model's would.
- `GET /_fake/stats`: `{"peak_in_flight": n}`, the most completion requests held at once.
- `GET /_fake/requests`: the completion request bodies received, each with an added `_http`
  key `{"path": ..., "query": {...}, "time": <when it came>}` (vendors put the model or API
  version in the URL);
  `POST /_fake/reset`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "Call",
    "FakeControl",
    "FakeLLM",
    "Reply",
    "Result",
    "Turn",
    "Usage",
    "thought",
    "words",
]


@dataclass
class Call:
    """A tool call: `arguments` is JSON text, as most vendors send it."""

    name: str
    arguments: str = "{}"
    id: str = ""


@dataclass
class Result:
    """A tool result; `name` or `call_id` (or both) says which call it answers."""

    content: str
    name: str = ""
    call_id: str = ""
    is_error: bool = False


@dataclass
class Turn:
    """One message of the conversation: role "system", "user", "assistant" or "tool"."""

    role: str
    text: str = ""
    tool_calls: list[Call] = field(default_factory=list)
    tool_results: list[Result] = field(default_factory=list)


@dataclass
class Reply:
    """What the model answers: text, or tool calls (text may come with them when canned)."""

    text: str | None = None
    tool_calls: list[Call] = field(default_factory=list)

    def size(self) -> int:
        return len(self.text or "") + sum(len(c.name) + len(c.arguments) for c in self.tool_calls)


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cache_read_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def thought(turns: list[Turn]) -> str:
    """What a fake reasoning model thinks before it answers: "I think about: <user text>"."""
    users = [t.text for t in turns if t.role == "user"]
    return f"I think about: {users[-1] if users else 'nothing'}"


_FACT = re.compile(r"FACT (\w+)=([\w-]+)")
_RECALL = re.compile(r"\[recall (\w+)\]")


def words(text: str | None) -> list[str]:
    """`text` in stream-sized pieces (each word with its surrounding spaces)."""
    return re.findall(r"\s*\S+\s*", text or "")


class FakeLLM:
    """The vendor-neutral state of one fake: rules, queued entries, received requests."""

    def __init__(self, call_id_prefix: str = "call_") -> None:
        self.call_id_prefix = call_id_prefix
        self._call_ids = itertools.count(1)
        self.requests: list[dict[str, Any]] = []
        self.queue: list[dict[str, Any]] = []
        self.chunk_delay = 0.0
        self.hold = 0.0
        self.in_flight = self.peak_in_flight = 0
        self._generation = 0  # reset: requests held from before are no longer counted

    # --- one completion request -----------------------------------------------------------

    async def take(self, body: dict[str, Any], request: Request) -> dict[str, Any]:
        """Record a valid request; return the next queued entry ({} if none), after its delay."""
        query = dict(request.query_params)
        http = {"path": request.url.path, "query": query, "time": time.time()}
        self.requests.append(body | {"_http": http})
        entry = self.queue.pop(0) if self.queue else {}
        generation = self._generation
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.hold or entry.get("delay"):
                await asyncio.sleep(self.hold + float(entry.get("delay", 0)))
        finally:
            if generation == self._generation:
                self.in_flight -= 1
        return entry

    def reply(
        self, turns: list[Turn], tools: list[str], entry: dict[str, Any], choice: str | None = None
    ) -> Reply:
        """The canned reply of `entry` if it has one, else the rules' reply; `choice` is the
        request's tool choice: None (or "auto"), "none", "required" or a tool's name."""
        if "content" in entry or "tool_calls" in entry:
            return self._canned(entry)
        if choice == "none":
            tools = []
        elif choice not in (None, "auto") and tools:
            users = [t.text for t in turns if t.role == "user"]
            name = tools[0] if choice == "required" else choice
            arguments = json.dumps({"query": users[-1] if users else ""})
            return Reply(tool_calls=[Call(name, arguments, self.call_id())])
        return self._rule_reply(turns, tools)

    def usage(self, turns: list[Turn], reply: Reply, entry: dict[str, Any]) -> Usage:
        """Counted as the module docstring says; `entry["cache_read_tokens"]` of the prompt
        tokens are reported as read from the vendor's prompt cache."""
        prompt = sum(len(t.text) + sum(len(r.content) for r in t.tool_results) for t in turns)
        prompt = max(1, prompt // 4)
        cached = min(prompt, int(entry.get("cache_read_tokens", 0)))
        return Usage(prompt, max(1, reply.size() // 4), cached)

    async def pause(self) -> None:
        """Between two stream chunks."""
        await asyncio.sleep(self.chunk_delay)

    # --- the rules ------------------------------------------------------------------------

    def _rule_reply(self, turns: list[Turn], tools: list[str]) -> Reply:
        users = [t.text for t in turns if t.role == "user"]
        user_text = users[-1] if users else ""
        last = turns[-1].role if turns else ""
        looping = bool(tools) and bool(users) and "[loop]" in users[0]
        if looping or (last == "user" and tools and "[no tools]" not in user_text):
            count = 2 if "[two tools]" in user_text and len(tools) >= 2 else 1
            arguments = json.dumps({"query": user_text})
            return Reply(tool_calls=[Call(n, arguments, self.call_id()) for n in tools[:count]])
        if last == "tool":
            return Reply(text="Tool results: " + " | ".join(_tool_results(turns)))
        facts = [fact for turn in turns for fact in _FACT.findall(turn.text)]
        if "[summarize]" in user_text:
            stated = list(dict.fromkeys(f"FACT {key}={value}" for key, value in facts))
            return Reply(text="Summary: " + ("; ".join(stated) or "nothing to remember"))
        if recall := _RECALL.search(user_text):
            key = recall.group(1)
            values = [value for name, value in facts if name == key]
            return Reply(text=f"{key}={values[-1]}" if values else f"{key} unknown")
        return Reply(text="Echo: " + user_text)

    def _canned(self, entry: dict[str, Any]) -> Reply:
        calls = []
        for call in entry.get("tool_calls") or []:
            arguments = call.get("arguments", {})
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            calls.append(Call(call["name"], arguments, call.get("id") or self.call_id()))
        text = entry.get("content")
        return Reply(text=text if text or not calls else None, tool_calls=calls)

    def call_id(self) -> str:
        return f"{self.call_id_prefix}{next(self._call_ids)}"

    # --- control --------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """The `/_fake/*` control routes, to add to the vendor fake's app."""
        return [
            Route("/_fake/enqueue", self._enqueue, methods=["POST"]),
            Route("/_fake/config", self._config, methods=["POST"]),
            Route("/_fake/requests", self._requests, methods=["GET"]),
            Route("/_fake/stats", self._stats, methods=["GET"]),
            Route("/_fake/reset", self._reset, methods=["POST"]),
        ]

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
        self.hold = float(settings.get("hold", self.hold))
        return JSONResponse({"chunk_delay": self.chunk_delay, "hold": self.hold})

    async def _requests(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def _stats(self, request: Request) -> Response:
        return JSONResponse({"peak_in_flight": self.peak_in_flight})

    async def _reset(self, request: Request) -> Response:
        self.requests.clear()
        self.queue.clear()
        self.chunk_delay = 0.0
        self.hold = 0.0
        self.in_flight = self.peak_in_flight = 0
        self._generation += 1
        return JSONResponse({})


def _tool_results(turns: list[Turn]) -> list[str]:
    """`name=content` for the results of the trailing tool turns."""
    trailing: list[Result] = []
    for turn in reversed(turns):
        if turn.role != "tool":
            break
        trailing[:0] = turn.tool_results
    names = {c.id: c.name for t in turns for c in t.tool_calls}
    return [f"{r.name or names.get(r.call_id) or r.call_id}={r.content}" for r in trailing]


# One client for every control call: a new httpx client costs ~25 ms (its TLS context).
_HTTP = httpx.Client(timeout=10)


class FakeControl:
    """Drives a running fake over HTTP: `FakeControl(server.base_url)` (no API path)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def enqueue(self, *entries: dict[str, Any]) -> None:
        _HTTP.post(f"{self.base_url}/_fake/enqueue", json=list(entries)).raise_for_status()

    def configure(self, *, chunk_delay: float) -> None:
        body = {"chunk_delay": chunk_delay}
        _HTTP.post(f"{self.base_url}/_fake/config", json=body).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        response = _HTTP.get(f"{self.base_url}/_fake/requests")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def reset(self) -> None:
        _HTTP.post(f"{self.base_url}/_fake/reset").raise_for_status()
