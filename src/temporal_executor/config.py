"""Configuration: the seed's YAML shape plus our documented extras, with env overrides.

Load order: built-in defaults ← YAML file (path from the CLI or `TEMPORAL_EXECUTOR_CONFIG`)
← environment variables `TEMPORAL_EXECUTOR__SECTION__KEY[__KEY…]` (list items by index, e.g.
`TEMPORAL_EXECUTOR__LLM__PROVIDERS__0__CONFIG__BASE_URL`). Values from the environment are
read as YAML scalars, so `true`, `8080` and `30s` mean what they look like. Secrets are never
in the file: a provider names the environment variable that holds its key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError
from .models import RetrySettings, TaskPolicies, ToolSpec

__all__ = [
    "A2AConfig",
    "A2APushConfig",
    "A2ASkill",
    "Config",
    "EventsConfig",
    "ExecutorConfig",
    "ProviderConfig",
    "ServerConfig",
    "TemporalConfig",
    "ToolsConfig",
    "default_state_dir",
    "load_config",
    "parse_duration",
]

ENV_PREFIX = "TEMPORAL_EXECUTOR__"
CONFIG_PATH_ENV = "TEMPORAL_EXECUTOR_CONFIG"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> float:
    """`120s`, `1.5m`, `500ms`, `1h` or a plain number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. 500ms, 30s, 5m, 1h)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be greater than 0")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # `section:` with only comments under it is YAML null: treat it as "all defaults".
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return {} if data is None else data


class TemporalConfig(_Section):
    host_port: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "agent-execution-queue"
    ui_port: int | None = Field(default=None, ge=1, le=65535)


class Timeouts(_Section):
    llm: Duration = 120.0
    tool: Duration = 60.0
    task: Duration = 3600.0
    heartbeat: Duration = 30.0


class RetryConfig(_Section):
    llm: RetrySettings = Field(default_factory=RetrySettings)
    tool: RetrySettings = Field(
        default_factory=lambda: RetrySettings(max_attempts=3, maximum_interval=30.0)
    )

    @field_validator("llm", "tool", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = dict(value)
            for key in ("initial_interval", "maximum_interval"):
                if key in value:
                    value[key] = parse_duration(value[key])
        return value


class ExecutorConfig(_Section):
    max_concurrent_workflows: int = Field(default=100, ge=1)
    max_concurrent_activities: int = Field(default=200, ge=1)
    max_iterations: int = Field(default=10, ge=1, le=10_000)
    history_limit: int = Field(default=10_000, ge=100, le=50_000)
    inline_bytes: int = Field(default=65_536, ge=1024, le=1_048_576)
    max_content_bytes: int = Field(default=1_048_576, ge=1024)
    require_approval: bool | list[str] = False
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    def policies(self) -> TaskPolicies:
        return TaskPolicies(
            llm_timeout=self.timeouts.llm,
            tool_timeout=self.timeouts.tool,
            heartbeat_timeout=self.timeouts.heartbeat,
            task_timeout=self.timeouts.task,
            history_limit=self.history_limit,
            inline_bytes=self.inline_bytes,
            max_content_bytes=self.max_content_bytes,
            llm_retry=self.retry.llm,
            tool_retry=self.retry.tool,
        )


class ProviderConfig(_Section):
    """One provider. `class` (`module:Class`) names a provider class that is not built in and
    not installed under the entry point group: the worker and API import it by that path."""

    name: str = Field(min_length=1)
    api_key_env: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    class_: str | None = Field(default=None, alias="class", pattern=r"^[\w.]+:\w+$")

    def api_key(self) -> str | None:
        """The key from the environment, read when needed and never stored or logged."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


_DEFAULT_PROVIDER = {"name": "openai", "api_key_env": "OPENAI_API_KEY"}


class LLMConfig(_Section):
    providers: list[ProviderConfig] = Field(
        default_factory=lambda: [ProviderConfig.model_validate(_DEFAULT_PROVIDER)]
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
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    api_keys_env: str | None = "TEMPORAL_EXECUTOR_API_KEYS"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    sse_heartbeat: Duration = 15.0

    def api_keys(self) -> set[str]:
        raw = os.environ.get(self.api_keys_env, "") if self.api_keys_env else ""
        return {key.strip() for key in raw.split(",") if key.strip()}


class DefaultAgent(_Section):
    system_message: str | None = None
    model: dict[str, Any] | None = Field(
        default_factory=lambda: {"provider": "openai", "model": "gpt-4o-mini"},
        alias="model_config",
    )
    tools: list[ToolSpec] = Field(default_factory=list)
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


class A2AConfig(_Section):
    """The A2A server: agent card fields, the agent behind it, push notifications.

    `url` is the public base URL clients reach this service at (behind an ingress, say
    `https://agents.example.com/team-a`); the card advertises `{url}/a2a` (JSON-RPC) and
    `{url}/a2a/rest` (HTTP+JSON). Unset, each card names the host it was fetched from.

    The endpoints always take A2A 0.3 requests too; `advertise_v03` also lists the 0.3
    interfaces in the card, with the 0.3 card fields (`url`, `preferredTransport`, …) that
    0.3 clients need to find us from the card alone. Off by default: a strict 1.0 reader
    rejects those extra fields."""

    enabled: bool = True
    name: str = "temporal-executor"
    description: str = "An LLM agent run as a durable Temporal workflow."
    url: str | None = None
    version: str | None = None
    documentation_url: str | None = None
    advertise_v03: bool = False
    skills: list[A2ASkill] = Field(default_factory=list)
    default_agent: DefaultAgent = Field(default_factory=DefaultAgent)
    push_notifications: A2APushConfig = Field(default_factory=A2APushConfig)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError("must be an http(s) URL, e.g. https://agents.example.com")
        return value.rstrip("/")


class Config(_Section):
    temporal: TemporalConfig = Field(default_factory=TemporalConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
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


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Read the config; any problem becomes one `ConfigError` naming the key."""
    env = dict(os.environ if env is None else env)
    path = path or env.get(CONFIG_PATH_ENV)
    data: dict[str, Any] = {}
    if path:
        data = _read_yaml(Path(path))
    if not (data.get("llm") or {}).get("providers"):
        # Env overrides by index (…__PROVIDERS__0__…) apply to the built-in provider list too.
        data["llm"] = {**(data.get("llm") or {}), "providers": [dict(_DEFAULT_PROVIDER)]}
    _apply_env_overrides(data, env)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"config file {path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of sections")
    return data


def _apply_env_overrides(data: dict[str, Any], env: dict[str, str]) -> None:
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__")]
        if not all(keys):
            raise ConfigError(f"environment variable {name}: empty key segment")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        _set_path(data, keys, value, name)


def _set_path(node: Any, keys: list[str], value: Any, origin: str) -> None:
    *parents, last = keys
    for i, key in enumerate(parents):
        following = keys[i + 1]
        default: Any = [] if following.isdigit() else {}
        node = _child(node, key, default, origin)
    if isinstance(node, list):
        index = _index(node, last, origin)
        node[index] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"environment variable {origin}: cannot set a key inside a scalar")


def _child(node: Any, key: str, default: Any, origin: str) -> Any:
    if isinstance(node, list):
        index = _index(node, key, origin)
        if not isinstance(node[index], dict | list):
            node[index] = default
        return node[index]
    if not isinstance(node, dict):
        raise ConfigError(f"environment variable {origin}: cannot set a key inside a scalar")
    if not isinstance(node.get(key), dict | list):
        node[key] = default
    return node[key]


def _index(node: list[Any], key: str, origin: str) -> int:
    if not key.isdigit():
        raise ConfigError(f"environment variable {origin}: {key!r} must be a list index")
    index = int(key)
    if index > len(node):
        raise ConfigError(f"environment variable {origin}: list index {index} skips items")
    if index == len(node):
        node.append({})
    return index


def _describe(exc: ValidationError, path: str | Path | None) -> str:
    error = exc.errors()[0]
    key = ".".join(str(p) for p in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif (
        "input" in error
        and not isinstance(error["input"], dict | list)
        and (repr(error["input"]) not in message)
    ):
        message += f" (got {error['input']!r})"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    source = f"config {path}" if path else "config"
    return f"{source}: {key}: {message}{suffix}"
