"""`mcp` tools: the tools of MCP servers declared in `tools.mcp_servers`, through the official
MCP Python SDK (v2), over stdio, streamable HTTP or HTTP+SSE.

```json
{"name": "now", "type": "mcp", "config": {"server": "time", "tool": "get_current_time"}}
{"name": "time", "type": "mcp", "config": {"server": "time"}}
```

The second form stands for every tool of the server: `expands()` is true and `expand()` lists
them (tools/list, all pages) as one spec each, named `<spec name>_<MCP tool name>` (characters
other than `A-Za-z0-9_-` become `_`; names past 64 characters are shortened with a hash),
with the server's input schema and description. `"tool_filter": ["a", "b"]` keeps only those
tools (each must exist); `"bare_names": true` names them `<MCP tool name>` alone, as kagent
offers them (two servers' tools of one name then clash: the task fails, naming it). A named
tool whose spec leaves `parameters` empty expands too, to that one tool with its schema. The
workflow runs `expand` in an activity before the first LLM call, so it stays deterministic.

Results: text parts joined by newlines (a part that is a JSON object or array is compacted),
`structuredContent` as compact JSON when there is no content, images and audio as
`[image: image/png, 1234 bytes]`, embedded text resources as their text, other resources as a
placeholder with their URI; capped at `tools.http.max_response_bytes` (see `output.py`).
What else a result holds becomes the task's artifacts (`ToolOutput.files`): images, audio and
embedded blob resources (named after their URI; images and PDFs are sent to the model too),
resource links to http(s) URLs (as links), and `structuredContent` (as data).
Every call carries its tool call id in `_meta["temporal-executor/idempotency-key"]`.

Errors (`ToolError`; the message is what the LLM reads):
- a result with `isError`: its text; a JSON-RPC error (unknown tool, bad arguments, a server
  failure) or an invalid response: `MCP error <code> …`; not retryable.
- the server crashed or closed the connection mid-call: not retryable, so the LLM hears of it
  at once rather than after Temporal's retries; the session is dropped, and the next call
  starts a fresh one.
- no answer within `call_timeout`: not retryable; a stdio server's process group is killed
  (it may be stuck in a loop), an HTTP session is dropped; the next call starts afresh.
- cannot start or connect (start-up timeout, connection refused): retryable, except a stdio
  server that exits during start-up (a bad command, see the worker's stderr) and a URL the
  address guard refuses.
Cancelling a call (the activity is cancelled) sends MCP's `notifications/cancelled` and keeps
the session.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp import Client, MCPError
from mcp_types import (
    CONNECTION_CLOSED,
    REQUEST_TIMEOUT,
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    ImageContent,
    RequestParamsMeta,
    ResourceLink,
    TextContent,
    TextResourceContents,
    Tool,
)
from pydantic import ValidationError

from ..errors import ToolError, ToolSpecError
from ..llm.media import VISION_TYPES, file_name, is_text
from ..spec import ToolSpec
from .base import ToolFile, ToolOutput, ToolType
from .guard import AddressGuard
from .mcp_config import AnyServer, McpConfig, StdioServer, parse_servers
from .mcp_pool import Connection, SessionPool
from .output import cap_output, compact_json, maybe_compact_json
from .schema import is_empty_schema

if TYPE_CHECKING:
    from ..config import ToolsConfig
    from ..llm.messages import ToolCall

__all__ = ["IDEMPOTENCY_KEY", "McpTool", "result_files", "result_text"]

IDEMPOTENCY_KEY = "temporal-executor/idempotency-key"
MAX_PAGES = 100
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_BROKEN = (TimeoutError, OSError, httpx2.TransportError, anyio.BrokenResourceError)
_T = TypeVar("_T")


class McpTool(ToolType):
    """Calls tools of configured MCP servers over pooled sessions (see `mcp_pool.py`)."""

    type = "mcp"
    config_model = McpConfig

    def __init__(self, settings: ToolsConfig) -> None:
        super().__init__(settings)
        self.servers = parse_servers(settings.mcp_servers)
        self._pool = SessionPool(self.servers, AddressGuard(settings.allow_private_hosts))

    def validate(self, spec: ToolSpec) -> None:
        self._target(spec)

    def expands(self, spec: ToolSpec) -> bool:
        try:
            config = self._target(spec)
        except ToolSpecError:
            return False
        return config.tool is None or is_empty_schema(spec.parameters)

    async def expand(self, spec: ToolSpec) -> list[ToolSpec]:
        config = self._target(spec)
        server, name = config.server, config.tool
        tools = await self._run(server, "tools/list", _list_tools)
        if name is None:
            if config.tool_filter is not None:
                for wanted in config.tool_filter:
                    _find(spec, server, tools, wanted)
                tools = [tool for tool in tools if tool.name in config.tool_filter]
            prefix = None if config.bare_names else spec.name
            return [_spec_for(spec, server, tool, prefix) for tool in tools]
        found = _find(spec, server, tools, name)
        update: dict[str, Any] = {}
        if is_empty_schema(spec.parameters):
            update["parameters"] = _object_schema(found.input_schema)
        if not spec.description:
            update["description"] = _description(found)
        return [spec.model_copy(update=update, deep=True)]

    async def call(self, spec: ToolSpec, call: ToolCall) -> ToolOutput:
        try:
            config = self._target(spec)
        except ToolSpecError as exc:
            raise ToolError(exc.message) from exc
        server, name = config.server, config.tool
        if name is None:
            raise ToolError(
                f"tool {spec.name!r} stands for every tool of MCP server {server!r}: "
                "expand it before calling"
            )
        if call.arguments_error:
            raise ToolError(f"the arguments are not valid JSON: {call.arguments_error}")
        meta = cast(RequestParamsMeta, {IDEMPOTENCY_KEY: call.id})

        async def call_tool(client: Client) -> CallToolResult:
            return await client.call_tool(name, call.arguments, meta=meta)

        result = await self._run(server, f"tool {name!r}", call_tool)
        limit = self.settings.http.max_response_bytes
        text = cap_output(result_text(result), limit)
        if result.is_error:
            raise ToolError(text or f"MCP tool {name!r} reported an error")
        return ToolOutput(text, result_files(result))

    async def aclose(self) -> None:
        await self._pool.aclose()

    def _target(self, spec: ToolSpec) -> McpConfig:
        """The spec's config, naming a configured server; `ToolSpecError` naming the field
        otherwise."""
        config: McpConfig = self.parse_config(spec)
        if config.server not in self.servers:
            known = ", ".join(sorted(self.servers)) or "none"
            raise ToolSpecError(
                f"tool {spec.name!r}: unknown MCP server {config.server!r} (configured: {known})"
            )
        return config

    async def _run(
        self, server: str, what: str, operation: Callable[[Client], Awaitable[_T]]
    ) -> _T:
        """`operation` on the server's pooled session within `call_timeout`; every failure
        becomes a `ToolError`, and a session that failed is dropped (see module docstring)."""
        config = self.servers[server]
        connection: Connection | None = None
        try:
            async with self._pool.session(server) as connection:
                try:
                    async with asyncio.timeout(config.call_timeout):
                        return await operation(connection.client)
                except BaseException as exc:
                    if _breaks_session(exc):
                        self._pool.retire(connection, kill=isinstance(exc, TimeoutError))
                    raise
        except asyncio.CancelledError:
            raise
        except ToolError as exc:
            if connection is not None:
                raise
            # Refused by the address guard, say: name the server.
            message = f"MCP server {server!r}: {exc.message}"
            raise ToolError(message, retryable=exc.retryable) from exc
        except Exception as exc:
            opened = connection is not None
            raise _tool_error(server, config, what, _leaf(exc), opened=opened) from exc


async def _list_tools(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            return tools
        if cursor in seen:
            raise ToolError("the MCP server repeated a tools/list page cursor")
        seen.add(cursor)
    raise ToolError(f"the MCP server listed more than {MAX_PAGES} pages of tools")


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside anyio's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _breaks_session(exc: BaseException) -> bool:
    exc = _leaf(exc)
    if isinstance(exc, MCPError):
        return exc.code in (CONNECTION_CLOSED, REQUEST_TIMEOUT)
    return isinstance(exc, _BROKEN)


def _tool_error(
    server: str, config: AnyServer, what: str, exc: BaseException, *, opened: bool
) -> ToolError:
    stdio = isinstance(config, StdioServer)
    if not opened:
        if isinstance(exc, TimeoutError):
            return ToolError(
                f"MCP server {server!r} did not start within {config.startup_timeout:g}s",
                retryable=True,
            )
        if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED and stdio:
            return ToolError(
                f"MCP server {server!r} exited during start-up (its stderr is in the worker's log)"
            )
        if isinstance(exc, OSError | httpx2.TransportError):
            return ToolError(f"cannot connect to MCP server {server!r}: {exc}", retryable=True)
        return ToolError(f"MCP server {server!r} failed to start: {_describe(exc)}")
    if isinstance(exc, TimeoutError) or (isinstance(exc, MCPError) and exc.code == REQUEST_TIMEOUT):
        restart = "; the server was stopped and is restarted for the next call" if stdio else ""
        return ToolError(
            f"MCP {what} on server {server!r} did not finish within {config.call_timeout:g}s"
            f"{restart}"
        )
    if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
        return ToolError(
            f"MCP server {server!r} closed the connection during {what} (it crashed or exited); "
            "the next call starts a new session"
        )
    if isinstance(exc, MCPError):
        return ToolError(f"MCP error {exc.code} from server {server!r}: {exc.message}")
    if isinstance(exc, ValidationError):
        return ToolError(f"MCP server {server!r} sent an invalid response to {what}")
    if isinstance(exc, OSError | httpx2.TransportError):
        return ToolError(f"connection to MCP server {server!r} failed: {exc}", retryable=True)
    return ToolError(f"MCP {what} on server {server!r} failed: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MCPError):
        return f"MCP error {exc.code}: {exc.message}"
    return str(exc) or type(exc).__name__


# --- results -------------------------------------------------------------------------------


def result_text(result: CallToolResult) -> str:
    """A tool result as text for the LLM (see module docstring)."""
    parts = [_content_text(block) for block in result.content]
    if not parts and result.structured_content is not None:
        return compact_json(result.structured_content)
    return "\n".join(parts)


def _content_text(block: ContentBlock) -> str:
    if isinstance(block, TextContent):
        return maybe_compact_json(block.text)
    if isinstance(block, ImageContent | AudioContent):
        return f"[{block.type}: {block.mime_type}, {_decoded_size(block.data)} bytes]"
    if isinstance(block, EmbeddedResource):
        resource = block.resource
        if isinstance(resource, TextResourceContents):
            return maybe_compact_json(resource.text)
        if isinstance(resource, BlobResourceContents):
            mime = resource.mime_type or "application/octet-stream"
            return f"[resource: {resource.uri}, {mime}, {_decoded_size(resource.blob)} bytes]"
    if isinstance(block, ResourceLink):
        label = f" {block.name}" if block.name else ""
        return f"[resource link: {block.uri}{label}]"
    return f"[{getattr(block, 'type', 'unknown')} content]"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data) * 3 // 4


def result_files(result: CallToolResult) -> list[ToolFile]:
    """What a result holds besides text, in order (see the module docstring)."""
    files: list[ToolFile] = []
    for block in result.content:
        if isinstance(block, ImageContent | AudioContent):
            content = _decoded(block.data)
            if content is not None:
                image = isinstance(block, ImageContent)
                files.append(ToolFile(block.mime_type, content=content, to_model=image))
        elif isinstance(block, EmbeddedResource) and isinstance(
            block.resource, BlobResourceContents
        ):
            resource = block.resource
            media_type = resource.mime_type or "application/octet-stream"
            content = _decoded(resource.blob)
            if content is not None:
                to_model = media_type in VISION_TYPES or is_text(media_type)
                name = file_name(resource.uri)
                files.append(ToolFile(media_type, name, content=content, to_model=to_model))
        elif isinstance(block, ResourceLink) and urlsplit(block.uri).scheme in ("http", "https"):
            media_type = block.mime_type or "application/octet-stream"
            files.append(ToolFile(media_type, block.name or file_name(block.uri), url=block.uri))
    if result.structured_content is not None:
        files.append(ToolFile("application/json", data=result.structured_content))
    return files


def _decoded(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


# --- expanded specs ------------------------------------------------------------------------


def _find(spec: ToolSpec, server: str, tools: list[Tool], name: str) -> Tool:
    """The server's tool called `name`; `ToolSpecError` listing what it has otherwise."""
    found = next((tool for tool in tools if tool.name == name), None)
    if found is None:
        listed = ", ".join(tool.name for tool in tools) or "none"
        raise ToolSpecError(
            f"tool {spec.name!r}: MCP server {server!r} has no tool {name!r} (it has: {listed})"
        )
    return found


def _spec_for(spec: ToolSpec, server: str, tool: Tool, prefix: str | None) -> ToolSpec:
    try:
        return ToolSpec(
            name=_tool_name(prefix, tool.name),
            description=_description(tool),
            parameters=_object_schema(tool.input_schema),
            type="mcp",
            config={"server": server, "tool": tool.name},
            read_only=spec.read_only,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise ToolSpecError(
            f"tool {spec.name!r}: MCP server {server!r}: tool {tool.name!r} is unusable: {problem}"
        ) from None


def _tool_name(prefix: str | None, name: str) -> str:
    """`<prefix>_<name>` (`name` alone without a prefix), made to match
    `spec.TOOL_NAME_PATTERN` (providers' rule)."""
    full = _NAME_CHARS.sub("_", name if prefix is None else f"{prefix}_{name}")
    if len(full) <= 64:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[:55]}_{digest}"


def _description(tool: Tool) -> str:
    return (tool.description or tool.title or "")[:8192]


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The input schema as providers want it: an object schema (MCP requires one anyway)."""
    return {"type": "object", **schema} if "type" not in schema else dict(schema)
