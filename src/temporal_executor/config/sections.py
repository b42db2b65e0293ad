"""The config file as one model, `Config`: the seed's YAML shape plus our documented extras.

Each key's section, with its defaults, lives in the module of its area and nowhere else:
`execution.py` (`temporal`, `executor`, `events`), `providers.py` (`llm`, `tools`),
`server.py` (`server`), `observability.py` (`logging`, `observability`), `a2a.py` (`a2a`),
`security.py` (`security`), `kagent.py` (`kagent`) and `triggers.py` (`triggers`);
`section.py` is what every section is. The workflow gets its timeouts and retry policies from
these sections, fixed at submission. Provider and tool settings (`llm.providers[].config`, a
tool's `config`) are typed by their adapters (`llm/settings.py`, `tools/`). This module's
names are the package's.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, PrivateAttr

from .a2a import A2AConfig, A2AGrpcConfig, A2APushConfig, A2ASkill, DefaultAgent
from .api_keys import ApiKey, Scope
from .duration import Duration, parse_duration
from .execution import (
    MAX_FAIRNESS_KEY_BYTES,
    ApprovalRule,
    ConcurrentMessages,
    DeploymentConfig,
    EventsConfig,
    ExecutorConfig,
    InputsConfig,
    RetryConfig,
    RetrySettings,
    TemporalConfig,
    Timeouts,
)
from .kagent import KagentConfig
from .observability import LogConfig, ObservabilityConfig
from .providers import HttpToolConfig, LLMConfig, PriceConfig, ProviderConfig, ToolsConfig
from .section import Section
from .security import EncryptionConfig, SecurityConfig
from .server import ServerConfig
from .triggers import TriggerConfig, Triggers

__all__ = [
    "MAX_FAIRNESS_KEY_BYTES",
    "A2AConfig",
    "A2AGrpcConfig",
    "A2APushConfig",
    "A2ASkill",
    "ApiKey",
    "ApprovalRule",
    "ConcurrentMessages",
    "Config",
    "DefaultAgent",
    "DeploymentConfig",
    "Duration",
    "EncryptionConfig",
    "EventsConfig",
    "ExecutorConfig",
    "HttpToolConfig",
    "InputsConfig",
    "KagentConfig",
    "LLMConfig",
    "LogConfig",
    "ObservabilityConfig",
    "PriceConfig",
    "ProviderConfig",
    "RetryConfig",
    "RetrySettings",
    "Scope",
    "SecurityConfig",
    "ServerConfig",
    "TemporalConfig",
    "Timeouts",
    "ToolsConfig",
    "TriggerConfig",
    "default_state_dir",
    "parse_duration",
]


class Config(Section):
    temporal: TemporalConfig = Field(default_factory=TemporalConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    logging: LogConfig = Field(default_factory=LogConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    a2a: A2AConfig = Field(default_factory=A2AConfig)
    kagent: KagentConfig = Field(default_factory=KagentConfig)
    triggers: Triggers = Field(default_factory=dict)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    state_dir: Path | None = None
    # What loading had to say, for the service to log once it starts: `(level, message)`.
    _notes: list[tuple[int, str]] = PrivateAttr(default_factory=list)

    @property
    def notes(self) -> list[tuple[int, str]]:
        """The lines a service logs when it starts (e.g. what of kagent's agent definition
        is not honoured)."""
        return self._notes

    def resolved_state_dir(self) -> Path:
        return self.state_dir or default_state_dir()

    def events_url(self) -> str:
        return self.events.url or f"sqlite:///{self.resolved_state_dir() / 'events.db'}"

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.llm.providers if p.name == name), None)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "temporal-executor"
