"""The A2A server (`a2a`): its agent card, the agent a message runs by default, push
notifications and the gRPC listener."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from ..spec import StrictModelSettings, StrictToolSpec
from .duration import Duration
from .section import Section, http_url

__all__ = ["A2AConfig", "A2AGrpcConfig", "A2APushConfig", "A2ASkill", "DefaultAgent"]


class DefaultAgent(Section):
    """The agent a message runs when it does not say otherwise (A2A, `/a2a/message`, `run`)."""

    system_message: str | None = None
    model: StrictModelSettings | None = Field(
        default_factory=lambda: StrictModelSettings(provider="openai", model="gpt-4o-mini"),
        alias="model_config",
    )
    tools: list[StrictToolSpec] = Field(default_factory=list)
    require_approval: bool | list[str] | None = None

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), populate_by_name=True)


class A2ASkill(Section):
    """One skill of the agent card: what the agent can be asked to do."""

    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=256)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


class A2APushConfig(Section):
    """Push notifications: webhooks get a task's status changes and its final answer.

    Webhook URLs pass the same outbound-address guard as HTTP tools, with its own allow list
    (an in-cluster webhook receiver is a private address a tool need not reach):
    `allow_private_hosts` is `true` or a list of networks / hostnames. Unset, private
    addresses are refused, except loopback under `temporal-executor dev`."""

    enabled: bool = True
    allow_private_hosts: bool | list[str] | None = None
    max_attempts: int = Field(default=5, ge=1, le=50)
    initial_interval: Duration = 0.5
    maximum_interval: Duration = 30.0
    timeout: Duration = 10.0


_GRPC_TARGET = re.compile(r"^([^\s/:\[\]]+|\[[0-9a-fA-F:.]+\]):\d{1,5}$")  # host:port, [v6]:port


class A2AGrpcConfig(Section):
    """A2A over gRPC (service `lf.a2a.v1.A2AService`, and the 0.3 `a2a.v1.A2AService`),
    served by the API process beside HTTP, over the same request handler.

    `host` is the address to bind (default: `server.host`). The card advertises `url`
    ("host:port", no scheme, as gRPC clients dial it), else `a2a.url`'s host with `port`,
    else the host the card was fetched from with `port`."""

    enabled: bool = False
    host: str | None = None
    port: int = Field(default=50051, ge=1, le=65535)
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not _GRPC_TARGET.match(value):
            raise ValueError("must be host:port, e.g. agents.example.com:443 (no scheme)")
        return value


class A2AConfig(Section):
    """The A2A server: agent card fields, the agent behind it, push notifications.

    `url` is the public base URL clients reach this service at (behind an ingress, say
    `https://agents.example.com/team-a`); the card advertises `{url}/a2a` (JSON-RPC) and
    `{url}/a2a/rest` (HTTP+JSON). Unset, each card names the host it was fetched from.

    The endpoints always take A2A 0.3 requests too; `advertise_v03` also lists the 0.3
    interfaces in the card, with the 0.3 card fields (`url`, `preferredTransport`, …) that
    0.3 clients need to find us from the card alone. Off by default: a strict 1.0 reader
    rejects those extra fields.

    For kagent (see `deploy/kagent/`): `jsonrpc_at_root` also answers JSON-RPC at `POST /`
    (kagent 0.10's controller posts there); `accept_task_ids` lets a message whose `taskId`
    names no task start a new task with that id (kagent's API-v2 gateway assigns task ids
    itself) instead of failing with task-not-found; `subscribe_ended_task: task_not_found`
    answers SubscribeToTask on a task that has ended with TaskNotFound (which kagent's
    gateway reads as "nothing runs there") instead of UnsupportedOperation (the A2A spec's
    answer); GetTask still returns the task."""

    enabled: bool = True
    name: str = "temporal-executor"
    description: str = "An LLM agent run as a durable Temporal workflow."
    url: str | None = None
    version: str | None = None
    documentation_url: str | None = None
    icon_url: str | None = None
    advertise_v03: bool = False
    jsonrpc_at_root: bool = False
    accept_task_ids: bool = False
    subscribe_ended_task: Literal["unsupported_operation", "task_not_found"] = (
        "unsupported_operation"
    )
    skills: list[A2ASkill] = Field(default_factory=list)
    default_agent: DefaultAgent = Field(default_factory=DefaultAgent)
    push_notifications: A2APushConfig = Field(default_factory=A2APushConfig)
    grpc: A2AGrpcConfig = Field(default_factory=A2AGrpcConfig)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return http_url(value)
