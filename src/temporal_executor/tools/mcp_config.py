"""`tools.mcp_servers`: the MCP servers a worker may use, checked when the worker starts.

```yaml
tools:
  mcp_servers:
    time:                                  # the name requests use: {"server": "time"}
      transport: stdio                     # the default when `command` is given
      command: uvx                         # found on PATH (the worker's, unless env.PATH)
      args: [mcp-server-time]
      env: {TZ: Europe/Paris}              # the ONLY variables the server gets, besides
                                           # PATH, HOME and LANG (see tools/sandbox.py)
      cwd: /srv/mcp/time                   # default: a private temporary directory
      limits: {cpu_seconds: 600, memory_mb: 1024, open_files: 256}   # the defaults
      startup_timeout: 30s                 # start + handshake
      call_timeout: 30s                    # one tools/call or tools/list
      health_check_after: 30s              # idle time after which a session is probed
    docs:
      transport: streamable_http           # the default when `url` is given
      url: https://mcp.example.com/mcp     # checked by the address guard
      headers: {X-Team: agents}            # secrets: through TEMPORAL_EXECUTOR__TOOLS__…
    legacy:
      transport: sse                       # MCP's older HTTP+SSE transport
      url: https://mcp.example.com/sse     # url, headers: as for streamable_http
```

Keep `call_timeout` below `executor.timeouts.tool`, so that a slow tool ends as an error the
LLM reads rather than as an activity timeout that Temporal retries.

This module does not import the MCP SDK, so checking the config costs nothing at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from ..config.duration import Duration
from ..errors import ConfigError, describe_validation
from .sandbox import Limits

__all__ = [
    "AnyServer",
    "HttpServer",
    "McpConfig",
    "ServerConfig",
    "SseServer",
    "StdioServer",
    "parse_servers",
]

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e]*$")
_ENV_NAME = re.compile(r"^[^=\x00]+$")
# Set by the transport; a configured value would break the session or the address pinning.
_RESERVED_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "host",
        "mcp-protocol-version",
        "mcp-session-id",
        "transfer-encoding",
    }
)
_TRANSPORT_ALIASES = {"streamable-http": "streamable_http", "http": "streamable_http"}
_TRANSPORTS = ("stdio", "streamable_http", "sse")


def _scalar_to_str(value: Any) -> Any:
    """`8080` or `true` from YAML or an environment override mean the string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


Text = Annotated[str, BeforeValidator(_scalar_to_str)]


class _Server(BaseModel):
    model_config = ConfigDict(extra="forbid")

    startup_timeout: Duration = 30.0
    call_timeout: Duration = 30.0
    health_check_after: Duration = 30.0


class StdioServer(_Server):
    """A server the worker starts as a sandboxed child process and talks to over stdio."""

    transport: Literal["stdio"] = "stdio"
    command: str = Field(min_length=1)
    args: list[Text] = Field(default_factory=list)
    env: dict[str, Text] = Field(default_factory=dict)
    cwd: Path | None = None
    limits: Limits = Field(default_factory=Limits)

    @field_validator("env")
    @classmethod
    def _env(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"invalid variable name {name!r}")
            if "\x00" in value:
                raise ValueError(f"{name}: NUL character in value")
        return env

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, cwd: Path | None) -> Path | None:
        if cwd is not None and not cwd.is_absolute():
            raise ValueError("must be an absolute path")
        return cwd


class _RemoteServer(_Server):
    """A server reached over HTTP at `url`, with `headers` on every request."""

    url: str
    headers: dict[str, Text] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        try:
            parsed = httpx.URL(url.strip())
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a valid URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"must be an absolute http(s) URL: {url!r}")
        return str(parsed)

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name!r}")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{name} is set by the MCP transport")
            if not _HEADER_VALUE.match(value):
                raise ValueError(f"{name}: must be printable ASCII")
        return headers


class HttpServer(_RemoteServer):
    """A server reached over MCP's streamable HTTP transport."""

    transport: Literal["streamable_http"] = "streamable_http"


class SseServer(_RemoteServer):
    """A server reached over MCP's older HTTP+SSE transport (an event stream from `url`,
    messages POSTed to the endpoint it names, on the same origin)."""

    transport: Literal["sse"] = "sse"


def _name_of(what: str, *, optional: bool = False) -> Any:
    def check(value: object) -> object:
        if (value is not None or not optional) and (not isinstance(value, str) or not value):
            raise ValueError(f"must be the name of {what}")
        return value

    return BeforeValidator(check)


class McpConfig(BaseModel):
    """An `mcp` tool's `config`: a server of `tools.mcp_servers`, and one of its tools (all of
    them when none is named). For a whole server, `tool_filter` keeps only the tools it names
    (as kagent's `tools` and ADK's `tool_filter` do), and `bare_names` offers them under their
    own MCP names instead of `<spec name>_<tool>` (kagent's naming, which its
    `require_approval` lists use)."""

    model_config = ConfigDict(extra="forbid")

    server: Annotated[str, _name_of("a server in tools.mcp_servers")]
    tool: Annotated[str | None, _name_of("one of its tools", optional=True)] = None
    tool_filter: list[Annotated[str, _name_of("one of its tools")]] | None = None
    bare_names: bool = False

    @model_validator(mode="after")
    def _whole_server_options(self) -> McpConfig:
        if self.tool is not None and (self.tool_filter is not None or self.bare_names):
            raise ValueError(
                "tool_filter and bare_names apply to a whole server: give them without tool"
            )
        return self


AnyServer = StdioServer | HttpServer | SseServer
ServerConfig = Annotated[AnyServer, Field(discriminator="transport")]
_SERVER = TypeAdapter[AnyServer](ServerConfig)


def parse_servers(raw: dict[str, Any]) -> dict[str, AnyServer]:
    """Check every `tools.mcp_servers` entry; a problem is a `ConfigError` naming the key."""
    servers: dict[str, AnyServer] = {}
    for name, entry in raw.items():
        where = f"tools.mcp_servers.{name}"
        if not isinstance(entry, dict):
            raise ConfigError(f"config: {where}: must be a mapping")
        data = dict(entry)
        transport = data.get("transport")
        if transport is None:
            if "command" not in data and "url" not in data:
                raise ConfigError(f"config: {where}: give a command (stdio) or a url")
            data["transport"] = "stdio" if "command" in data else "streamable_http"
        elif isinstance(transport, str):
            data["transport"] = _TRANSPORT_ALIASES.get(transport, transport)
        if data["transport"] not in _TRANSPORTS:
            raise ConfigError(f"config: {where}.transport: must be stdio, streamable_http or sse")
        try:
            servers[name] = _SERVER.validate_python(data)
        except ValidationError as exc:
            summary, _ = describe_validation(exc, field=_key_in(where), unknown="unknown key")
            raise ConfigError(f"config: {summary}") from None
    return servers


def _key_in(where: str) -> Callable[[tuple[int | str, ...]], str]:
    """A server entry's key from a location (whose first part is the union's tag, not a key)."""

    def key(loc: tuple[int | str, ...]) -> str:
        return ".".join([where, *map(str, loc[1:])])

    return key
