"""Configuration: the config file's sections (`sections.py`) and how they are loaded, from
defaults, a YAML file and environment overrides (`loading.py`)."""

from __future__ import annotations

from .loading import CONFIG_PATH_ENV, ENV_PREFIX, load_config
from .sections import (
    A2AConfig,
    A2APushConfig,
    A2ASkill,
    Config,
    DefaultAgent,
    Duration,
    EventsConfig,
    ExecutorConfig,
    HttpToolConfig,
    LLMConfig,
    ProviderConfig,
    RetryConfig,
    RetrySettings,
    ServerConfig,
    TemporalConfig,
    Timeouts,
    ToolsConfig,
    default_state_dir,
    parse_duration,
)

__all__ = [
    "CONFIG_PATH_ENV",
    "ENV_PREFIX",
    "A2AConfig",
    "A2APushConfig",
    "A2ASkill",
    "Config",
    "DefaultAgent",
    "Duration",
    "EventsConfig",
    "ExecutorConfig",
    "HttpToolConfig",
    "LLMConfig",
    "ProviderConfig",
    "RetryConfig",
    "RetrySettings",
    "ServerConfig",
    "TemporalConfig",
    "Timeouts",
    "ToolsConfig",
    "default_state_dir",
    "load_config",
    "parse_duration",
]
