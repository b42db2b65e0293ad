"""What the Anthropic wire fake (`anthropic_fake.py`) checks in a request, as the Messages API
does, and the two pieces of state behind its thinking and prompt caching.

`problem(body, model, signer)` is the first thing the API would reject, with its error text:
- the request's shape: `model`, `max_tokens`, non-empty `messages` of roles `user` /
  `assistant`, no empty or whitespace-only text, every `tool_use` answered by `tool_result`
  blocks in the very next message (and none without its `tool_use`), tools with a name and an
  `input_schema`; at most 4 `cache_control` breakpoints, none on a thinking block;
- images and documents: `image` blocks (base64 PNG, JPEG, GIF or WebP whose bytes are that
  image, or a URL) and `document` blocks (a base64 PDF, plain text, or a URL) in user
  messages and in a `tool_result`'s content only;
- thinking (`thinking.type` `enabled` or `adaptive`): a budget of at least 1024 below
  `max_tokens`; manual thinking refused from Claude 4.7, adaptive thinking before 4.6;
  `temperature` only 1; no forced tool use; and, when the request ends with tool results,
  the assistant turn they answer starts with its thinking block;
- every thinking block's signature (and redacted block's data) is one this fake issued, for
  this model, over this very text: an edited block, or one another model wrote, is refused.

`Signer` issues and checks the signatures. `PromptCache` plays Anthropic's prompt cache: the
prefix up to each breakpoint (tools, system, messages, in that order) is written once it is
at least `MIN_CACHE_TOKENS` long, and read back when a later request's breakpoint finds it
within 20 blocks before it (the API's lookback); tokens are the fake's usual characters / 4
over the texts the rules count.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from .rules import decoded, sniffed

__all__ = ["MIN_CACHE_TOKENS", "PromptCache", "Signer", "problem"]

MIN_CACHE_TOKENS = 1024
LOOKBACK = 20
MAX_BREAKPOINTS = 4
_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
_UNANSWERED = (
    "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
    "{ids}. Each `tool_use` block must have a corresponding `tool_result` block in the next "
    "message."
)
_UNEXPECTED = (
    "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. "
    "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
)
_NO_THINKING_FIRST = (
    "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
    "`{found}`. When `thinking` is enabled, a final `assistant` message must start with a "
    "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We "
    "recommend you include thinking blocks from previous turns. To avoid this requirement, "
    f"disable `thinking`. Please consult our documentation at {_DOCS}"
)
_BUDGET_BELOW_MAX = (
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
    f"documentation at {_DOCS}#max-tokens-and-context-window-size"
)
_TEMPERATURE = (
    "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
    f"documentation at {_DOCS}#important-considerations-when-using-extended-thinking"
)
_NO_MANUAL = (
    '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" '
    'and "output_config.effort" to control thinking behavior.'
)
_CLAUDE_VERSION = re.compile(r"^claude-(?:[a-z]+-)?(\d+)(?:-(\d{1,2})(?!\d))?")


class Signer:
    """Signs thinking blocks as the API does for the model that wrote them, and checks them."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(16)

    def sign(self, model: str, thinking: str) -> str:
        mac = hmac.new(self._key, f"{model}\n{thinking}".encode(), hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    def redacted(self, model: str) -> str:
        nonce = secrets.token_hex(8)
        return f"{nonce}.{self.sign(model, 'redacted:' + nonce)}"

    def valid(self, model: str, block: dict[str, Any]) -> bool:
        if block.get("type") == "thinking":
            expected = self.sign(model, str(block.get("thinking", "")))
            return hmac.compare_digest(expected, str(block.get("signature", "")))
        nonce, _, mac = str(block.get("data", "")).partition(".")
        return hmac.compare_digest(self.sign(model, "redacted:" + nonce), mac)


def problem(body: dict[str, Any], model: Any, signer: Signer) -> str | None:
    """What the API would reject in this request, or None."""
    if not isinstance(model, str) or not model:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        return "system: Input should be a valid string or a list of text blocks"
    for k, tool in enumerate(body.get("tools") or []):
        if (
            not isinstance(tool, dict)
            or not tool.get("name")
            or not isinstance(tool.get("input_schema"), dict)
        ):
            return f"tools.{k}.custom.input_schema: Field required"
    return (
        _conversation(messages, model, signer)
        or _breakpoints(body)
        or _thinking(body, model, max_tokens)
    )


def _conversation(messages: list[Any], model: str, signer: Signer) -> str | None:
    pending: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        blocks = _blocks(message)
        if not blocks:
            return (
                f"messages.{i}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        answered: set[str] = set()
        for j, block in enumerate(blocks):
            if not isinstance(block, dict):
                return f"messages.{i}.content.{j}: Input should be an object"
            kind = block.get("type")
            if kind == "text" and not str(block.get("text", "")).strip():
                return "messages: text content blocks must contain non-whitespace text"
            if kind in ("thinking", "redacted_thinking"):
                if "cache_control" in block:
                    where = f"messages.{i}.content.{j}.{kind}.cache_control"
                    return f"{where}: Extra inputs are not permitted"
                if not signer.valid(model, block):
                    return f"messages.{i}.content.{j}: Invalid `signature` in `{kind}` block"
            if kind in ("image", "document") and message.get("role") != "user":
                return f"messages.{i}.content.{j}: {kind} blocks are only allowed in user turns"
            if problem := _media_problem(f"messages.{i}.content.{j}", block):
                return problem
            if kind == "tool_result":
                if block.get("tool_use_id") not in pending:
                    return _UNEXPECTED.format(i=i, j=j, id=block.get("tool_use_id"))
                answered.add(block["tool_use_id"])
                if problem := _result_problem(f"messages.{i}.content.{j}", block):
                    return problem
        if pending - answered:
            return _UNANSWERED.format(i=i, ids=", ".join(sorted(pending - answered)))
        pending = {b.get("id", "") for b in blocks if b.get("type") == "tool_use"}
    return None


_IN_RESULTS = ("text", "image", "document", "search_result")
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def _media_problem(where: str, block: dict[str, Any]) -> str | None:
    """What Anthropic says about an image or document block (None: nothing, or not one)."""
    kind = block.get("type")
    if kind not in ("image", "document"):
        return None
    source = block.get("source")
    source_type = source.get("type") if isinstance(source, dict) else None
    if not isinstance(source, dict) or source_type not in ("base64", "url", "text", "file"):
        return f"{where}.{kind}.source: Field required"
    if source_type in ("url", "file") or (kind == "document" and source_type == "text"):
        return None
    if source_type == "text":
        return f"{where}.image.source: Input tag 'text' does not match the expected tags"
    media_type, data = source.get("media_type"), decoded(source.get("data"))
    at = f"{where}.{kind}.source.base64"
    allowed = _IMAGE_TYPES if kind == "image" else ("application/pdf",)
    if media_type not in allowed:
        expected = ", ".join(f"'{t}'" for t in allowed)
        return f"{at}.media_type: Input should be {expected}"
    if data is None:
        return f"{at}.data: invalid base64 data"
    if sniffed(data) != media_type:
        if kind == "document":
            return f"{at}.data: The PDF specified was not valid."
        return (
            f"{at}: The image was specified using the {media_type} media type, but does not "
            "appear to be a valid image of that type"
        )
    return None


def _result_problem(where: str, block: dict[str, Any]) -> str | None:
    """What the API says about a `tool_result`'s content blocks (text, images, documents)."""
    inner = block.get("content")
    for k, part in enumerate(inner if isinstance(inner, list) else []):
        at = f"{where}.tool_result.content.{k}"
        if not isinstance(part, dict) or part.get("type") not in _IN_RESULTS:
            kind = part.get("type") if isinstance(part, dict) else None
            return f"{at}: Input tag {kind!r} is not one of {_IN_RESULTS}"
        if problem := _media_problem(at, part):
            return problem
    return None


def _breakpoints(body: dict[str, Any]) -> str | None:
    found = sum(1 for _, marked in flat_blocks(body) if marked)
    if found > MAX_BREAKPOINTS:
        limit = f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided."
        return f"{limit} Found {found}."
    return None


def _thinking(body: dict[str, Any], model: str, max_tokens: int) -> str | None:
    thinking = body.get("thinking") or {}
    kind = thinking.get("type")
    if kind not in ("enabled", "adaptive"):
        return None
    version = _claude_version(model)
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if budget >= max_tokens:
            return _BUDGET_BELOW_MAX
        if version is not None and version >= (4, 7):
            return _NO_MANUAL
    elif version is not None and version < (4, 6):
        return "thinking.type: adaptive thinking is not supported on this model"
    if body.get("temperature") not in (None, 1):
        return _TEMPERATURE
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return _final_turn_thinks(body["messages"])


def _final_turn_thinks(messages: list[dict[str, Any]]) -> str | None:
    """The assistant turn that the request's final tool results answer starts with thinking."""
    for i in range(len(messages) - 1, -1, -1):
        blocks = _blocks(messages[i])
        if messages[i]["role"] == "assistant":
            first = blocks[0].get("type")
            if first in ("thinking", "redacted_thinking"):
                return None
            return _NO_THINKING_FIRST.format(i=i, found=first)
        if not any(b.get("type") == "tool_result" for b in blocks):
            return None
    return None


def _claude_version(model: str) -> tuple[int, int] | None:
    match = _CLAUDE_VERSION.match(model)
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def _blocks(message: dict[str, Any]) -> list[Any]:
    content = message.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    return blocks if isinstance(blocks, list) else []


def flat_blocks(body: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """The request's cacheable prefix, block by block (tools, system, messages), each without
    its `cache_control` and with whether it had one (a breakpoint)."""
    system = body.get("system")
    system_blocks = [{"type": "text", "text": system}] if isinstance(system, str) else system
    flat: list[tuple[dict[str, Any], bool]] = []
    for part, blocks in (("tool", body.get("tools")), ("system", system_blocks)):
        for block in blocks or []:
            if isinstance(block, dict):
                rest = {k: v for k, v in block.items() if k != "cache_control"}
                flat.append(({"in": part, **rest}, "cache_control" in block))
    for message in body.get("messages") or []:
        for block in _blocks(message) if isinstance(message, dict) else []:
            if isinstance(block, dict):
                rest = {k: v for k, v in block.items() if k != "cache_control"}
                flat.append(({"in": message.get("role"), **rest}, "cache_control" in block))
    return flat


class PromptCache:
    """Anthropic's prompt cache, as the module docstring says; `answer` gives a request's
    (read, written) prompt tokens."""

    def __init__(self) -> None:
        self._written: set[str] = set()

    def answer(self, body: dict[str, Any], model: str) -> tuple[int, int]:
        flat = flat_blocks(body)
        digests: list[str] = []
        sizes: list[int] = []
        digest, size = hashlib.sha256(model.encode()).hexdigest(), 0
        for block, _ in flat:
            digest = hashlib.sha256(
                (digest + json.dumps(block, sort_keys=True)).encode()
            ).hexdigest()
            size += _counted(block)
            digests.append(digest)
            sizes.append(size)
        marks = [n for n, (_, marked) in enumerate(flat) if marked]
        read = 0
        for mark in marks:
            for n in range(mark, max(mark - LOOKBACK, -1), -1):
                if digests[n] in self._written:
                    read = max(read, sizes[n] // 4)
                    break
        written = 0
        for mark in marks:
            if sizes[mark] // 4 >= MIN_CACHE_TOKENS:
                self._written.add(digests[mark])
                written = max(written, sizes[mark] // 4 - read)
        return read, written


def _counted(block: dict[str, Any]) -> int:
    """The characters of a block that the rules count as prompt (texts and tool results)."""
    if block.get("in") in ("tool", "assistant") and block.get("type") != "text":
        return 0
    content = block.get("content") if block.get("type") == "tool_result" else block.get("text")
    if isinstance(content, list):
        return sum(len(str(b.get("text", ""))) for b in content if isinstance(b, dict))
    return len(content) if isinstance(content, str) else 0
