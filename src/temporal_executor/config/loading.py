"""Loading the config: built-in defaults ← YAML file ← environment overrides ← the agent
kagent defines, when it defines one (`temporal_executor.kagent`).

The file's path comes from the CLI or `TEMPORAL_EXECUTOR_CONFIG`; environment variables
`TEMPORAL_EXECUTOR__SECTION__KEY[__KEY…]` override any key (list items by index, e.g.
`TEMPORAL_EXECUTOR__LLM__PROVIDERS__0__CONFIG__BASE_URL`). Values from the environment are
read as YAML scalars, so `true`, `8080` and `30s` mean what they look like. Secrets are never
in the file: a provider names the environment variable that holds its key. Any problem is one
`ConfigError` naming the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError, describe_validation
from ..kagent import apply_kagent
from .kagent import KagentConfig
from .providers import DEFAULT_PROVIDER
from .sections import Config

__all__ = ["CONFIG_PATH_ENV", "ENV_PREFIX", "load_config"]

ENV_PREFIX = "TEMPORAL_EXECUTOR__"
CONFIG_PATH_ENV = "TEMPORAL_EXECUTOR_CONFIG"


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Read the config; any problem becomes one `ConfigError` naming the key."""
    env = dict(os.environ if env is None else env)
    path = path or env.get(CONFIG_PATH_ENV)
    data: dict[str, Any] = {}
    if path:
        data = _read_yaml(Path(path))
    llm = data.get("llm") or {}
    if isinstance(llm, dict) and not llm.get("providers"):
        # Env overrides by index (…__PROVIDERS__0__…) apply to the built-in provider list too.
        # (An `llm` that is not a mapping is left for validation to name.)
        data["llm"] = {**llm, "providers": [dict(DEFAULT_PROVIDER)]}
    _apply_env_overrides(data, env)
    notes = _apply_kagent(data, env)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        source = f"config {path}" if path else "config"
        summary, _ = describe_validation(exc, unknown="unknown key")
        raise ConfigError(f"{source}: {summary}") from None
    config.notes.extend(notes)
    return config


def _apply_kagent(data: dict[str, Any], env: dict[str, str]) -> list[tuple[int, str]]:
    """kagent's agent definition laid over `data`, per the `kagent` section."""
    try:
        settings = KagentConfig.model_validate(data.get("kagent") or {})
    except ValidationError as exc:
        summary, _ = describe_validation(
            exc, field=lambda loc: ".".join(["kagent", *map(str, loc)])
        )
        raise ConfigError(f"config: {summary}") from None
    if not settings.enabled:
        return []
    return apply_kagent(data, env, settings.config_path, settings.card_path)


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
