"""kagent's `context_config.compaction` → our `executor.compaction` (README "Context
compaction"), with kagent's semantics where they differ from our own config's:

- `token_threshold` → `token_threshold`, `compaction_interval` → `interval`, `overlap_size`
  → `overlap`, `prompt_template` → `prompt_template` (kagent appends its warning about tool
  names to one's own template, and so do we);
- `summarizer_model` → `model` (one non-streamed call, as ADK's summarizer makes); without
  one, kagent-adk summarizes with the agent's own model (ADK's `summarizer=None`), never
  dropping turns: so the agent's model is the summarizer here too, where our own config
  without a `model` drops the older turns;
- `event_retention_size` (ADK's count of events the token path keeps) has no equivalent: our
  `overlap` is what stays; it is listed as not honoured.
A summarizer on another endpoint of the agent's provider type gets a provider entry of its
own (`<name>-summarizer`, of the built-in's class), as one entry is one endpoint here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ..errors import describe_validation
from ..spec import StrictCompaction
from .definition import Keys
from .model import MappedModel, map_model

__all__ = ["map_compaction"]

_KEYS = {
    "token_threshold": "token_threshold",
    "compaction_interval": "interval",
    "overlap_size": "overlap",
}


def map_compaction(
    root: Keys, env: Mapping[str, str], agent: MappedModel
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """`executor.compaction` for kagent's `context_config.compaction` (None: it sets none),
    and the provider entry its summarizer needs besides the agent's (None: the agent's)."""
    context = root.child("context_config")
    compaction = context.child("compaction") if context is not None else None
    if compaction is None:
        return None, None
    ours: dict[str, Any] = {}
    for theirs, key in _KEYS.items():
        if (value := compaction.integer(theirs)) is not None:
            ours[key] = value
    if (template := compaction.text("prompt_template")) is not None:
        ours["prompt_template"] = template
    summarizer = compaction.child("summarizer_model")
    provider = None
    if summarizer is None:
        mapped = agent
    else:
        mapped = map_model(summarizer, env, stream=False)
        if mapped.provider != agent.provider and mapped.provider["name"] == agent.provider["name"]:
            # (Here, not at the top: the config's loading imports this before llm's modules.)
            from ..llm.catalog import PROVIDERS

            name = mapped.provider["name"]
            own = {"name": f"{name}-summarizer", "class": PROVIDERS.builtins[name]}
            mapped.provider = {**mapped.provider, **own}
        provider = mapped.provider if mapped.provider != agent.provider else None
    ours["model"] = {**mapped.settings, "provider": mapped.provider["name"], "stream": False}
    try:
        StrictCompaction.model_validate(ours)
    except ValidationError as exc:
        origins = {ours_key: compaction.path(theirs) for theirs, ours_key in _KEYS.items()}

        def named(loc: tuple[int | str, ...]) -> str:
            return origins.get(str(loc[0]), compaction.where) if loc else compaction.where

        summary, _ = describe_validation(exc, field=named)
        raise compaction.source.error("", summary) from None
    return ours, provider
