"""`agent` tools: another agent, reached over A2A, called as a tool (kagent's "agents as
tools", its `remote_agents`).

```yaml
name: k8s_helper
type: agent
description: Inspects Kubernetes resources.   # empty: the agent card's description
config:
  url: http://k8s-helper.kagent:8080          # its card: <url>/.well-known/agent-card.json
  headers: {Authorization: "Bearer ..."}      # optional, sent with every call
  isolate_sessions: false                     # true: a conversation of its own for each call
  timeout: 5m                                 # optional: one attempt to follow the agent's turn
```

The model calls it with `{"request": "<text>"}` (kagent's schema, filled in when the spec
leaves `parameters` empty). The workflow runs these calls itself, in the `call_agent`
activity (`activities/agents.py`), because the other agent may pause for a person and the
task then pauses with it; `call` is never used. This module makes the A2A client for a call:
the card fetched (and kept for a few minutes) and the transport it offers (JSON-RPC,
HTTP+JSON or gRPC, A2A 1.0 or 0.3), with every URL (the card's and the one the card names)
checked by the address guard first, as `http` tools are. Its streams have no read timeout:
an agent may think for minutes; the activity's timeouts bound the wait.

With an `x-kagent-host` header (kagent's proxy routing), every call goes to `url`'s host,
whatever host the card names, as kagent does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import grpc.aio
import httpx
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.client.errors import A2AClientError
from a2a.types import AgentCard
from a2a.utils.constants import TransportProtocol
from pydantic import BaseModel, ConfigDict, Field

from ..config.duration import Duration
from ..errors import ToolError
from ..spec import ToolSpec
from .base import ToolType
from .guard import AddressGuard
from .http import Endpoint, Headers
from .schema import is_empty_schema

if TYPE_CHECKING:
    from ..config import ToolsConfig
    from ..llm.messages import ToolCall

__all__ = ["REQUEST_SCHEMA", "AgentTool", "AgentToolConfig"]

# What the model gives an agent: one request, as kagent-adk's agent tools take it.
REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"request": {"type": "string", "description": "What to ask the agent."}},
    "required": ["request"],
}
CARD_TTL = 300.0  # seconds a fetched card is used before it is fetched again
PROXY_HOST_HEADER = "x-kagent-host"
_BINDINGS = [TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON, TransportProtocol.GRPC]


class AgentToolConfig(BaseModel):
    """An `agent` tool's `config`."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    url: Endpoint
    headers: Headers = Field(default_factory=dict)
    isolate_sessions: bool = False
    timeout: Duration | None = Field(default=None, gt=0)


class AgentTool(ToolType):
    """Makes A2A clients for `agent` specs; one HTTP connection pool per worker."""

    type = "agent"
    config_model = AgentToolConfig

    def __init__(self, settings: ToolsConfig) -> None:
        super().__init__(settings)
        self._guard = AddressGuard(settings.allow_private_hosts)
        self._http: httpx.AsyncClient | None = None
        self._cards: dict[str, tuple[float, AgentCard]] = {}

    def expands(self, spec: ToolSpec) -> bool:
        return is_empty_schema(spec.parameters) or not spec.description

    async def expand(self, spec: ToolSpec) -> list[ToolSpec]:
        update: dict[str, Any] = {}
        if is_empty_schema(spec.parameters):
            update["parameters"] = REQUEST_SCHEMA
        if not spec.description:
            card = await self.card(spec)
            update["description"] = card.description or f"Ask the agent {card.name or spec.name}."
        return [spec.model_copy(update=update, deep=True)]

    async def call(self, spec: ToolSpec, call: ToolCall) -> str:
        raise ToolError(f"tool {spec.name!r}: an agent tool is called by the task's workflow")

    def config(self, spec: ToolSpec) -> AgentToolConfig:
        config: AgentToolConfig = self.parse_config(spec)
        return config

    async def card(self, spec: ToolSpec) -> AgentCard:
        """The agent's card (kept for `CARD_TTL`); `ToolError` when it cannot be had."""
        config = self.config(spec)
        url = str(config.url).rstrip("/")
        kept = self._cards.get(url)
        if kept is not None and time.monotonic() - kept[0] < CARD_TTL:
            return kept[1]
        await self._guard.resolve(url)
        try:
            card = await A2ACardResolver(self._client(), url).get_agent_card(
                http_kwargs={"headers": config.headers}
            )
        except A2AClientError as exc:
            raise ToolError(f"agent {url}: no agent card: {exc}", retryable=True) from exc
        if PROXY_HOST_HEADER in {name.lower() for name in config.headers}:
            _route_through(card, config.url)
        for interface in card.supported_interfaces:
            if interface.protocol_binding in _BINDINGS:
                # A gRPC interface is `host:port`: checked as the host it names.
                target = interface.url if "://" in interface.url else f"http://{interface.url}"
                await self._guard.resolve(target)
        self._cards[url] = (time.monotonic(), card)
        return card

    async def client(self, spec: ToolSpec) -> Client:
        """An A2A client for the agent of `spec` (the caller closes it)."""
        card = await self.card(spec)
        config = ClientConfig(
            streaming=True,
            httpx_client=self._client(),
            grpc_channel_factory=grpc.aio.insecure_channel,
            supported_protocol_bindings=list(_BINDINGS),
        )
        try:
            return ClientFactory(config).create(card)
        except ValueError as exc:  # no transport we speak
            raise ToolError(f"agent {card.name or spec.name}: {exc}") from exc

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None))
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def _route_through(card: AgentCard, proxy: httpx.URL) -> None:
    """Every interface of `card` at `proxy`'s scheme and host (the path kept)."""
    for interface in card.supported_interfaces:
        if "://" in interface.url:
            target = httpx.URL(interface.url)
            interface.url = str(target.copy_with(scheme=proxy.scheme, netloc=proxy.netloc))
