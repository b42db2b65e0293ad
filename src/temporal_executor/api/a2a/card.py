"""The agent card, from config: who the agent is, what it can do, where to reach it.

Served at `/.well-known/agent-card.json` (and the older `/.well-known/agent.json`). It lists
JSON-RPC at `{base}/a2a` and HTTP+JSON at `{base}/a2a/rest` for protocol 1.0 (and 0.3 with
`a2a.advertise_v03`), where `base` is `a2a.url` (the address behind an ingress) or else the
address the card was fetched from; with `a2a.grpc.enabled`, gRPC after those (so clients that
take the first interface they know stay on JSON-RPC) at `a2a.grpc.url`, else `base`'s host
with the gRPC port. Without configured skills the card has one skill that names the default
agent's model and tools.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentExtension,
    AgentInterface,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from a2a.utils.constants import PROTOCOL_VERSION_0_3, PROTOCOL_VERSION_1_0, TransportProtocol

from ... import __version__
from ...config import Config
from .hitl import HITL_EXTENSION_URI

__all__ = ["JSONRPC_PATH", "REST_PATH", "agent_card", "grpc_target", "public_url"]

JSONRPC_PATH = "/a2a"
REST_PATH = "/a2a/rest"
MEDIA_TYPES = ["text/plain", "application/json"]


def agent_card(config: Config, base_url: str) -> AgentCard:
    """The card of this server, reachable at `base_url` (no trailing slash)."""
    a2a = config.a2a
    card = AgentCard(
        name=a2a.name,
        description=a2a.description,
        version=a2a.version or __version__,
        default_input_modes=_input_modes(config),
        default_output_modes=MEDIA_TYPES,
        capabilities=AgentCapabilities(
            streaming=True,
            push_notifications=a2a.push_notifications.enabled,
            extended_agent_card=False,
            extensions=[
                AgentExtension(
                    uri=HITL_EXTENSION_URI,
                    description="Human approval of tool calls (input-required)",
                    required=False,
                )
            ],
        ),
        skills=_skills(config),
    )
    if a2a.documentation_url:
        card.documentation_url = a2a.documentation_url
    if a2a.icon_url:
        card.icon_url = a2a.icon_url
    versions = [PROTOCOL_VERSION_1_0, *([PROTOCOL_VERSION_0_3] if a2a.advertise_v03 else [])]
    for version in versions:
        card.supported_interfaces.extend(
            [
                AgentInterface(
                    url=base_url + JSONRPC_PATH,
                    protocol_binding=TransportProtocol.JSONRPC.value,
                    protocol_version=version,
                ),
                AgentInterface(
                    url=base_url + REST_PATH,
                    protocol_binding=TransportProtocol.HTTP_JSON.value,
                    protocol_version=version,
                ),
            ]
        )
    if a2a.grpc.enabled:
        card.supported_interfaces.extend(
            AgentInterface(
                url=grpc_target(config, base_url),
                protocol_binding=TransportProtocol.GRPC.value,
                protocol_version=version,
            )
            for version in versions
        )
    if config.server.api_keys():
        scheme = SecurityScheme(http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="bearer"))
        card.security_schemes["bearer"].CopyFrom(scheme)
        card.security_requirements.append(SecurityRequirement(schemes={"bearer": StringList()}))
    return card


def public_url(config: Config) -> str:
    """This server's address for links where no request tells it (a task's files over
    A2A): `a2a.url`, else `server.host` (localhost when it listens on every address) and
    `server.port`; set `a2a.url` behind an ingress."""
    if config.a2a.url:
        return config.a2a.url.rstrip("/")
    host = config.server.host
    host = "localhost" if host in ("", "0.0.0.0", "::") else host
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{config.server.port}"


def _input_modes(config: Config) -> list[str]:
    """What a message may hold: text, data, and the images and files this server takes."""
    return list(dict.fromkeys([*MEDIA_TYPES, *config.executor.inputs.media_types]))


def grpc_target(config: Config, base_url: str) -> str:
    """Where gRPC clients dial us: "host:port", no scheme (the SDK client and the conformance
    kit hand the card's URL to `grpc.insecure_channel` as it is)."""
    if config.a2a.grpc.url:
        return config.a2a.grpc.url
    host = urlsplit(base_url).hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    return f"{host}:{config.a2a.grpc.port}"


def _skills(config: Config) -> list[AgentSkill]:
    if config.a2a.skills:
        return [
            AgentSkill(
                id=s.id,
                name=s.name,
                description=s.description or s.name,
                tags=s.tags or [s.id],
                examples=s.examples,
            )
            for s in config.a2a.skills
        ]
    agent = config.a2a.default_agent
    model = f"{agent.model.provider}/{agent.model.model}" if agent.model else "?/?"
    described = [f"Model: {model}."]
    if agent.tools:
        tools = "; ".join(
            f"{t.name}: {t.description}" if t.description else t.name for t in agent.tools
        )
        described.append(f"Tools: {tools}.")
    if agent.require_approval:
        described.append("Tool calls may wait for your approval (input-required).")
    return [
        AgentSkill(
            id="agent",
            name=config.a2a.name,
            description=" ".join([config.a2a.description, *described]),
            tags=["agent", *(t.name for t in agent.tools)],
            examples=[],
            input_modes=MEDIA_TYPES,
            output_modes=MEDIA_TYPES,
        )
    ]
