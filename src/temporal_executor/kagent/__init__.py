"""The agent kagent defines, run as ours: kagent's `AgentConfig` (`KAGENT_CONFIG_JSON`, or
the file kagent mounts) and agent card (`KAGENT_AGENT_CARD_JSON`) laid over our config.

`apply_kagent` is one step of loading the config (`config/loading.py`: defaults ← YAML ←
environment overrides ← kagent's definition), so the API and the worker see the same agent:
- `model` → an `llm.providers` entry (`model.py`) and `a2a.default_agent.model_config`;
- `instruction` → `a2a.default_agent.system_message` (as it is: no templating, as kagent);
- `http_tools`, `sse_tools`, `stdio_tools` → `tools.mcp_servers` and the default agent's
  tools, under their bare names, with `require_approval` (`tools.py`); kagent's agents always
  have `ask_user`, and so does this one;
- `stream` → the model's streaming (kagent's default: off);
- `context_config.compaction` → `executor.compaction` (`compaction.py`: without a
  `summarizer_model`, the agent's own model summarizes, as in kagent);
- `description` and the card → `a2a` (`card.py`).
The default agent is kagent's alone: the one of our config (its prompt, model and tools) is
replaced. A config without a model (what kagent gives a BYO agent) defines nothing: our config
stands. Keys we do not honour are listed in one log line at start-up (`Definition.notes`); a
definition that cannot run (a model type with no provider here, a missing variable) is a
`ConfigError` naming the key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .card import map_card
from .compaction import map_compaction
from .definition import CARD_ENV, CONFIG_ENV, Keys, read_json
from .model import map_model
from .tools import map_tools

__all__ = ["CARD_ENV", "CONFIG_ENV", "apply_kagent"]

ASK_USER = {"name": "ask_user", "type": "builtin"}


def apply_kagent(
    data: dict[str, Any],
    env: Mapping[str, str],
    config_path: Path | None,
    card_path: Path | None,
) -> list[tuple[int, str]]:
    """Lay kagent's definition, when there is one, over `data` (the config as read, before
    validation); the lines to log at start-up, as `(logging level, message)`."""
    source = read_json(env, CONFIG_ENV, config_path, expand=True)
    if source is None:
        return []
    root = Keys(source.data, source)
    model = root.child("model")
    if model is None:
        return [
            (
                logging.INFO,
                f"kagent agent config ({source.name}) has no model (a BYO agent's): "
                "the agent is the one of this service's config",
            )
        ]
    mapped = map_model(model, env, stream=bool(root.flag("stream")))
    tools = map_tools(root)
    agent: dict[str, Any] = {
        "system_message": root.text("instruction"),
        "model_config": {"provider": mapped.provider["name"], **mapped.settings},
        "tools": [*tools.specs, ASK_USER],
        "require_approval": tools.require_approval or False,
    }
    a2a: dict[str, Any] = {"default_agent": agent}
    if description := root.text("description"):
        a2a["description"] = description
    compaction, summarizer = map_compaction(root, env, mapped)
    if root.data.get("share_tools") is False:
        root.skip("share_tools")  # not sharing tools with kagent's controller: as we do
    unread = root.unread()
    card_source = read_json(env, CARD_ENV, card_path, expand=False)
    if card_source is not None:
        card = Keys(card_source.data, card_source)
        a2a.update(map_card(card))
        unread += [f"{card_source.name}: {path}" for path in card.unread()]

    _set_provider(data, mapped.provider)
    if summarizer is not None:
        _set_provider(data, summarizer)
    if compaction is not None:
        _section(data, "executor")["compaction"] = compaction
    section = _section(data, "tools")
    servers = section.get("mcp_servers")
    section["mcp_servers"] = {**(servers if isinstance(servers, dict) else {}), **tools.servers}
    if tools.hosts and section.get("allow_private_hosts") is not True:
        allowed = section.get("allow_private_hosts") or []
        section["allow_private_hosts"] = [*allowed, *(h for h in tools.hosts if h not in allowed)]
    _section(data, "a2a").update(a2a)

    offered = ", ".join(spec["name"] for spec in agent["tools"])
    approval = ", ".join(tools.require_approval) or "none"
    notes = [
        (
            logging.INFO,
            f"kagent agent config ({source.name}): the agent is kagent's: model "
            f"{mapped.provider['name']}/{mapped.settings['model']}, tools {offered}, "
            f"approval for {approval}",
        )
    ]
    if unread:
        notes.append(
            (
                logging.WARNING,
                f"kagent agent config ({source.name}): not honoured: {', '.join(unread)}",
            )
        )
    return notes


def _set_provider(data: dict[str, Any], provider: dict[str, Any]) -> None:
    """`provider` in `llm.providers`, instead of an entry of the same name."""
    llm = _section(data, "llm")
    providers = llm.get("providers") or []
    if not isinstance(providers, list):
        raise ConfigError("config: llm.providers: must be a list")
    others = [
        p for p in providers if not (isinstance(p, dict) and p.get("name") == provider["name"])
    ]
    llm["providers"] = [*others, provider]


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The config's section `name` (made when the config has none)."""
    section = data.get(name)
    if section is None:
        section = data[name] = {}
    if not isinstance(section, dict):
        raise ConfigError(f"config: {name}: must be a mapping of keys")
    return section
