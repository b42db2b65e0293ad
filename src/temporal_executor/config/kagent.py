"""Under kagent (`kagent`): where kagent's agent definition is read when the environment does
not hold it (`KAGENT_CONFIG_JSON`, `KAGENT_AGENT_CARD_JSON`); how it is laid over this config
is `temporal_executor.kagent`'s."""

from __future__ import annotations

from pathlib import Path

from .section import Section

__all__ = ["KagentConfig"]


class KagentConfig(Section):
    """`enabled`: run the agent kagent defines when it defines one (its config has a model);
    `config_path` and `card_path`: the files kagent mounts (null: none)."""

    enabled: bool = True
    config_path: Path | None = Path("/config/config.json")
    card_path: Path | None = Path("/config/agent-card.json")
