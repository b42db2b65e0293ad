"""kagent's tools → our `tools.mcp_servers` entries and the agent's tool specs; its agents
as tools → `agent` specs.

Each `http_tools[i]` / `sse_tools[i]` / `stdio_tools[i]` becomes an MCP server
`kagent_http_<i>` / `kagent_sse_<i>` / `kagent_stdio_<i>` and one `mcp` spec of that name
standing for its tools: only those its `tools` list names (all when it names none), offered
under their bare MCP names as kagent-adk offers them (`bare_names`), so that
`require_approval` and the approval requests name them as the kagent user wrote them.
Per entry:
- `params.url`, `params.headers` (placeholders already resolved); `params.timeout` bounds
  the connection and each call (`startup_timeout`, `call_timeout`), `params.sse_read_timeout`
  a call (`call_timeout`); `terminate_on_close: true` is what we do anyway;
- `require_approval`: those tools wait for a person (one list for the agent, as kagent's);
- stdio: `command`, `args`, `env`, `dir` (the working directory; the server is sandboxed as
  every stdio server of ours, see `tools/sandbox.py`).
Unread (and so listed): `allowed_headers` (the A2A request's headers do not reach our tool
calls), `tls_*`, `terminate_on_close: false`.

The URLs' hosts are allowed to be private addresses (`tools.allow_private_hosts`): kagent's
MCP servers are services in the cluster, named by whoever defined the agent.

Each `remote_agents[i]` (another agent as a tool) becomes an `agent` spec of its `name`
(`tools/agent.py`): `url`, `headers`, `isolate_sessions`; `description` (else the agent
card's); `timeout` (kagent-adk's HTTP timeout of its one blocking call, 30 s when absent)
bounds one attempt to follow the agent's turn (absent: `executor.timeouts.tool`). Its host is
allowed as the MCP servers' are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from ..errors import ConfigError, describe_validation
from .definition import Keys

__all__ = ["MappedTools", "map_tools"]

_KINDS = (("http_tools", "http", "streamable_http"), ("sse_tools", "sse", "sse"))


@dataclass
class MappedTools:
    """What kagent's tools become: MCP servers by name, the agent's tool specs (its MCP
    servers', its agents'), the tools that need approval, and the hosts to allow."""

    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    specs: list[dict[str, Any]] = field(default_factory=list)
    require_approval: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)

    def allow(self, url: str | None) -> None:
        """The host of `url` among the private hosts allowed."""
        host = urlsplit(url or "").hostname
        if host and host not in self.hosts:
            self.hosts.append(host)

    def add_agent(self, entry: Keys) -> None:
        """`remote_agents[i]` as an `agent` spec; one we would refuse is a `ConfigError`."""
        from ..spec import StrictToolSpec
        from ..tools.agent import AgentToolConfig  # imports the config package

        config: dict[str, Any] = {
            "url": entry.text("url", required=True),
            "headers": entry.mapping("headers"),
            "isolate_sessions": bool(entry.flag("isolate_sessions")),
        }
        if (timeout := entry.number("timeout")) is not None:
            config["timeout"] = timeout
        spec = {
            "name": entry.text("name", required=True),
            "type": "agent",
            "description": entry.text("description") or "",
            "config": config,
        }
        try:
            StrictToolSpec.model_validate(spec)
            AgentToolConfig.model_validate(config)
        except ValidationError as exc:
            summary, _ = describe_validation(exc)
            raise entry.source.error(entry.where, summary) from None
        self.specs.append(spec)
        self.allow(config["url"])

    def add(self, name: str, server: dict[str, Any], entry: Keys) -> None:
        """Server `name`, offered as the tools `entry` names (all when none); a server entry
        we would refuse is a `ConfigError` naming kagent's key."""
        from ..tools.mcp_config import parse_servers  # imports the config package

        try:
            parse_servers({name: server})
        except ConfigError as exc:
            raise entry.source.error(entry.where, exc.message) from None
        self.servers[name] = server
        config: dict[str, Any] = {"server": name, "bare_names": True}
        if tool_filter := entry.strings("tools"):
            config["tool_filter"] = tool_filter
        self.specs.append({"name": name, "type": "mcp", "config": config})
        for tool in entry.strings("require_approval"):
            if tool not in self.require_approval:
                self.require_approval.append(tool)


def map_tools(root: Keys) -> MappedTools:
    """The tools of kagent's config (`root`: the whole `AgentConfig`)."""
    mapped = MappedTools()
    for key, prefix, transport in _KINDS:
        for index, entry in enumerate(root.children(key)):
            params = entry.child("params")
            if params is None:
                raise entry.error("params", "is required")
            url = params.text("url", required=True)
            server: dict[str, Any] = {
                "transport": transport,
                "url": url,
                "headers": params.mapping("headers"),
                **_timeouts(params),
            }
            if params.data.get("terminate_on_close") in (None, True):
                params.skip("terminate_on_close")  # ending the session on close: ours too
            mapped.add(f"kagent_{prefix}_{index}", server, entry)
            mapped.allow(url)
    for index, entry in enumerate(root.children("stdio_tools")):
        server = {
            "transport": "stdio",
            "command": entry.text("command", required=True),
            "args": entry.strings("args"),
            "env": entry.mapping("env"),
        }
        if directory := entry.text("dir"):
            server["cwd"] = directory
        mapped.add(f"kagent_stdio_{index}", server, entry)
    for entry in root.children("remote_agents"):
        mapped.add_agent(entry)
    return mapped


def _timeouts(params: Keys) -> dict[str, float]:
    timeouts: dict[str, float] = {}
    if (timeout := params.number("timeout")) is not None:
        timeouts["startup_timeout"] = timeouts["call_timeout"] = timeout
    if (read := params.number("sse_read_timeout")) is not None:
        timeouts["call_timeout"] = read
    return timeouts
