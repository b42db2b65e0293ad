"""The sections of the config file: the seed's YAML shape plus our documented extras.

Every default lives here and nowhere else: the workflow gets its timeouts and retry policies
from these sections, fixed at submission. Provider and tool settings (`llm.providers[].config`,
a tool's `config`) are typed by their adapters (`llm/settings.py`, `tools/`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ..spec import StrictModelSettings, StrictToolSpec
from .api_keys import KEY_NAME_PATTERN, ApiKey, Scope, parse_api_keys
from .duration import Duration, parse_duration

__all__ = [
    "A2AConfig",
    "A2AGrpcConfig",
    "A2APushConfig",
    "A2ASkill",
    "ApiKey",
    "ApprovalRule",
    "Config",
    "DefaultAgent",
    "DeploymentConfig",
    "Duration",
    "EventsConfig",
    "ExecutorConfig",
    "HttpToolConfig",
    "LLMConfig",
    "LogConfig",
    "ObservabilityConfig",
    "ProviderConfig",
    "RetryConfig",
    "RetrySettings",
    "Scope",
    "ServerConfig",
    "TemporalConfig",
    "Timeouts",
    "ToolsConfig",
    "default_state_dir",
    "parse_duration",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # `section:` with only comments under it is YAML null: treat it as "all defaults".
        # Only for our keys: an unknown one stays, to be refused, even when it is null.
        if isinstance(data, dict):
            known = cls.model_fields
            return {k: v for k, v in data.items() if v is not None or k not in known}
        return {} if data is None else data


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
        raise ValueError("must be an http(s) URL, e.g. https://agents.example.com")
    return value.rstrip("/")


class DeploymentConfig(_Section):
    """Temporal Worker Versioning, for fleets (README, "Upgrading"). With a `name`, a worker
    polls as version `build_id` of that Worker Deployment and gets tasks once the version is
    made current (`temporal-executor deployment set-current`); without one (default), off.
    `build_id` defaults to the package version and a digest of the workflow code
    (`build.py`). `versioning_behavior`: `auto_upgrade` (default; a running task moves to the
    current version at its next step: every release replays earlier histories, so parked
    tasks go on on new workers and old workers drain at once) or `pinned` (a task ends on
    the version it started on, whose workers must outlive it)."""

    # Temporal's rules: no `.` or `:` in a name (they delimit versions), no leading `__`.
    name: str | None = Field(default=None, max_length=255, pattern=r"^[^.:\s]+$")
    build_id: str | None = Field(default=None, max_length=255, pattern=r"^\S+$")
    versioning_behavior: Literal["auto_upgrade", "pinned"] = "auto_upgrade"

    @field_validator("name", "build_id")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("__"):
            raise ValueError("must not start with __ (Temporal reserves those)")
        return value


class TemporalConfig(_Section):
    """The Temporal cluster. `ui_url`: where its web UI is (e.g. `https://temporal.example.com`);
    when set (`dev` sets it), a task's REST body links to its workflow there. `deployment`:
    Worker Versioning (off by default)."""

    host_port: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "agent-execution-queue"
    ui_port: int | None = Field(default=None, ge=1, le=65535)
    ui_url: str | None = None
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig)

    @field_validator("ui_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _http_url(value)


class RetrySettings(_Section):
    """One activity's retry policy: attempts, and the backoff between them (seconds)."""

    max_attempts: int = Field(ge=1)
    initial_interval: Duration = 1.0
    backoff_coefficient: float = Field(default=2.0, ge=1)
    maximum_interval: Duration


class Timeouts(_Section):
    llm: Duration = 120.0
    tool: Duration = 60.0
    task: Duration = 3600.0
    heartbeat: Duration = 30.0


_LLM_RETRY = {"max_attempts": 5, "maximum_interval": 60.0}
_TOOL_RETRY = {"max_attempts": 3, "maximum_interval": 30.0}


class RetryConfig(_Section):
    llm: RetrySettings = Field(default_factory=lambda: RetrySettings(**_LLM_RETRY))
    tool: RetrySettings = Field(default_factory=lambda: RetrySettings(**_TOOL_RETRY))

    @field_validator("llm", "tool", mode="before")
    @classmethod
    def _defaults(cls, value: Any, info: Any) -> Any:
        # A section that sets some keys keeps the defaults of the others.
        defaults = _LLM_RETRY if info.field_name == "llm" else _TOOL_RETRY
        return {**defaults, **value} if isinstance(value, dict) else value


class ApprovalRule(_Section):
    """One rule of `executor.approval_policy`: tools whose name matches `tool` (a shell-style
    pattern: `kubectl_*`) run without asking (`allow`), always wait for a person (`ask`), or
    are refused (`deny`). The first rule that matches decides, above the request's
    `require_approval`; a call no rule matches follows the request."""

    tool: str = Field(min_length=1, max_length=128)
    action: Literal["allow", "ask", "deny"]
    reason: str | None = Field(default=None, max_length=1024)


class ExecutorConfig(_Section):
    """The agent loop's bounds and policies. `local_activities`: LLM and tool calls run as
    local activities in the worker that runs the task (no round trips through Temporal; a
    worker that dies is replaced after the workflow task timeout, and a call that had finished
    is not made again: its result is kept in the store), falling back to a regular activity
    (any worker, heartbeats, `retry`) when that attempt fails in a way worth retrying. `false`:
    regular activities only.

    `workflow_sandbox`: run the workflow in Temporal's sandbox, which re-imports its module for
    every workflow and wraps every activation (about a quarter of a worker's CPU, measured).
    Off by default: the workflow is our code, not the user's; the test suite runs it inside the
    sandbox and replays recorded histories, which is where a non-deterministic change is
    caught.

    `graceful_shutdown_timeout`: on SIGTERM a worker stops polling and gives the calls it runs
    this long to finish (regular activities are cancelled then, and retried elsewhere); it
    exits at the latest a few seconds later."""

    max_concurrent_workflows: int = Field(default=100, ge=1)
    max_concurrent_activities: int = Field(default=200, ge=1)
    max_iterations: int = Field(default=10, ge=1, le=10_000)
    history_limit: int = Field(default=10_000, ge=100, le=50_000)
    inline_bytes: int = Field(default=65_536, ge=1024, le=1_048_576)
    max_content_bytes: int = Field(default=1_048_576, ge=1024)
    require_approval: bool | list[str] = False
    approval_policy: list[ApprovalRule] = Field(default_factory=list, max_length=256)
    # How long a tool call waits for a decision (a request's `approval_timeout` overrides;
    # unset: until the task's own timeout), and what happens then.
    approval_timeout: Duration | None = Field(default=None, gt=0)
    approval_timeout_action: Literal["reject", "approve", "fail"] = "reject"
    # Tokens (in + out, all LLM calls) one task may use; a request's `max_total_tokens` may
    # only lower it.
    max_total_tokens: int | None = Field(default=None, ge=1)
    local_activities: bool = True
    workflow_sandbox: bool = False
    graceful_shutdown_timeout: Duration = 30.0
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryConfig = Field(default_factory=RetryConfig)


class ProviderConfig(_Section):
    """One provider. `class` (`module:Class`) names a provider class that is not built in and
    not installed under the entry point group: the worker and API import it by that path."""

    name: str = Field(min_length=1)
    api_key_env: str | None = None
    # Offered first by clients that let a person pick a model (the web console's New task).
    default_model: str | None = Field(default=None, min_length=1, max_length=256)
    config: dict[str, Any] = Field(default_factory=dict)
    class_: str | None = Field(default=None, alias="class", pattern=r"^[\w.]+:\w+$")

    def api_key(self) -> str | None:
        """The key from the environment, read when needed and never stored or logged."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


DEFAULT_PROVIDER = {"name": "openai", "api_key_env": "OPENAI_API_KEY"}


class LLMConfig(_Section):
    providers: list[ProviderConfig] = Field(
        default_factory=lambda: [ProviderConfig.model_validate(DEFAULT_PROVIDER)]
    )

    @field_validator("providers")
    @classmethod
    def _unique(cls, providers: list[ProviderConfig]) -> list[ProviderConfig]:
        names = [p.name for p in providers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"provider {name!r} is listed twice")
        return providers


class HttpToolConfig(_Section):
    timeout: Duration = 30.0
    max_response_bytes: int = Field(default=1_048_576, ge=1)
    max_redirects: int = Field(default=5, ge=0, le=20)


class ToolsConfig(_Section):
    allow_private_hosts: bool | list[str] = False
    http: HttpToolConfig = Field(default_factory=HttpToolConfig)
    mcp_servers: dict[str, dict[str, Any]] = Field(default_factory=dict)


class EventsConfig(_Section):
    url: str | None = None
    # Another process's appends are seen within this (one indexed query per follower).
    poll_interval: Duration = 0.1


class ServerConfig(_Section):
    """The API server. Bearer keys come from the variable `api_keys_env` names (see
    `api_keys.py`: `name:key` or bare entries); `api_key_scopes` limits what a named key may
    do (`read`, `write`, `approve`); a key not listed there may do everything."""

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    api_keys_env: str | None = "TEMPORAL_EXECUTOR_API_KEYS"
    api_key_scopes: dict[str, list[Scope]] = Field(default_factory=dict)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    sse_heartbeat: Duration = 15.0
    # A second listener (on `host`) with only `GET /readyz`, for platforms that probe
    # readiness on a port of their own (kagent's API-v2 runtimes: 8081).
    readiness_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("api_key_scopes")
    @classmethod
    def _key_names(cls, scopes: dict[str, list[Scope]]) -> dict[str, list[Scope]]:
        for name in scopes:
            if not re.fullmatch(KEY_NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a key name (letters, digits, . _ -)")
        return scopes

    def api_keys(self) -> list[ApiKey]:
        """The keys in the environment now (empty: auth is off)."""
        if not self.api_keys_env:
            return []
        raw = os.environ.get(self.api_keys_env, "")
        return parse_api_keys(raw, self.api_keys_env, self.api_key_scopes)


class LogConfig(_Section):
    """`format`: `text` (a line for people) or `json` (one object per line, with the task,
    workflow, session, activity and attempt of the record where known)."""

    format: Literal["text", "json"] = "text"


class ObservabilityConfig(_Section):
    """Metrics and traces. `metrics_port`: where a `worker` serves `/metrics` (and
    `/healthz`); null for none (the API serves `/metrics` on its own port, and so does `dev`,
    for both). `capture_content`: put prompts, answers, tool arguments and results on trace
    spans (off: spans carry names, models, token counts and outcomes only). Tracing itself is
    configured by the standard `OTEL_*` variables."""

    metrics_port: int | None = Field(default=9464, ge=1, le=65535)
    capture_content: bool = False

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # As every section, except that `metrics_port: null` is kept: it means "none".
        if isinstance(data, dict):
            known = set(cls.model_fields) - {"metrics_port"}
            return {k: v for k, v in data.items() if v is not None or k not in known}
        return {} if data is None else data


class DefaultAgent(_Section):
    """The agent a message runs when it does not say otherwise (A2A, `/a2a/message`, `run`)."""

    system_message: str | None = None
    model: StrictModelSettings | None = Field(
        default_factory=lambda: StrictModelSettings(provider="openai", model="gpt-4o-mini"),
        alias="model_config",
    )
    tools: list[StrictToolSpec] = Field(default_factory=list)
    require_approval: bool | list[str] | None = None

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), populate_by_name=True)


class A2ASkill(_Section):
    """One skill of the agent card: what the agent can be asked to do."""

    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=256)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


class A2APushConfig(_Section):
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


class A2AGrpcConfig(_Section):
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


class A2AConfig(_Section):
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
    itself) instead of failing with task-not-found."""

    enabled: bool = True
    name: str = "temporal-executor"
    description: str = "An LLM agent run as a durable Temporal workflow."
    url: str | None = None
    version: str | None = None
    documentation_url: str | None = None
    advertise_v03: bool = False
    jsonrpc_at_root: bool = False
    accept_task_ids: bool = False
    skills: list[A2ASkill] = Field(default_factory=list)
    default_agent: DefaultAgent = Field(default_factory=DefaultAgent)
    push_notifications: A2APushConfig = Field(default_factory=A2APushConfig)
    grpc: A2AGrpcConfig = Field(default_factory=A2AGrpcConfig)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _http_url(value)


class Config(_Section):
    temporal: TemporalConfig = Field(default_factory=TemporalConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    logging: LogConfig = Field(default_factory=LogConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    a2a: A2AConfig = Field(default_factory=A2AConfig)
    state_dir: Path | None = None

    def resolved_state_dir(self) -> Path:
        return self.state_dir or default_state_dir()

    def events_url(self) -> str:
        return self.events.url or f"sqlite:///{self.resolved_state_dir() / 'events.db'}"

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.llm.providers if p.name == name), None)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "temporal-executor"
