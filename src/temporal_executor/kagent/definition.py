"""Reading what kagent hands a runtime: its `AgentConfig` and agent card, as JSON.

Where from: the environment (`KAGENT_CONFIG_JSON`, `KAGENT_AGENT_CARD_JSON`) first, else the
files kagent mounts (`kagent.config_path`, `kagent.card_path`; `/config/config.json` and
`/config/agent-card.json` by default), as kagent-adk reads them (its `static` command writes
the variables to those files and reads the files).

Any string that is exactly `__KAGENT_ENV[NAME]__`, anywhere in the config (list items and
object values, never keys), is replaced by the variable `NAME`; a placeholder inside a longer
string stays as it is, and a variable that is not set stops the start-up (kagent-adk's
`_expand_config_env` and the Go runtime's `config_materialize.go` do the same).

`Keys` reads one JSON object key by key and remembers which keys were read: those are the
ones honoured, and what is left over (`unread`) is what the start-up log line lists. kagent's
own Python models ignore keys they do not know; we list them instead, so that a key of a newer
kagent (this was built against kagent's sources up to v0.10.0-rc3 and its API-v2 compiler)
is never dropped without a word.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["CARD_ENV", "CONFIG_ENV", "Keys", "Source", "read_json"]

CONFIG_ENV = "KAGENT_CONFIG_JSON"
CARD_ENV = "KAGENT_AGENT_CARD_JSON"
_PLACEHOLDER = ("__KAGENT_ENV[", "]__")


@dataclass(frozen=True)
class Source:
    """Where a document came from (`name`: the variable or the file), and its JSON object."""

    name: str
    data: dict[str, Any]

    def error(self, where: str, problem: str) -> ConfigError:
        """A `ConfigError` naming this source and the key `where` (a path like
        `http_tools[0].params.url`)."""
        at = f"{where}: " if where else ""
        return ConfigError(f"kagent agent config ({self.name}): {at}{problem}")


def read_json(
    env: Mapping[str, str], variable: str, path: Path | None, *, expand: bool
) -> Source | None:
    """The JSON object in `variable` (when set and not empty), else in the file at `path`
    (when there is one), else None; `expand`: resolve `__KAGENT_ENV[…]__` from `env`."""
    text, name = env.get(variable), variable
    if not (text and text.strip()):
        if path is None or not path.is_file():
            return None
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"kagent agent config ({name}): {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"kagent agent config ({name}): not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"kagent agent config ({name}): must be a JSON object")
    source = Source(name, data)
    if expand:
        source = Source(name, _expanded(data, env, source, ""))
    return source


def _expanded(value: Any, env: Mapping[str, str], source: Source, where: str) -> Any:
    if isinstance(value, str):
        start, end = _PLACEHOLDER
        if value.startswith(start) and value.endswith(end):
            variable = value[len(start) : -len(end)]
            if variable not in env:
                problem = f"required environment variable {variable} is not set"
                raise source.error(where, problem)
            return env[variable]
        return value
    if isinstance(value, list):
        return [_expanded(item, env, source, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {
            key: _expanded(item, env, source, f"{where}.{key}" if where else key)
            for key, item in value.items()
        }
    return value


def _empty(value: Any) -> bool:
    """Absent in effect: kagent's Go structs write some unset fields as `""`, `{}` or null."""
    return value is None or value == "" or value == {} or value == []


class Keys:
    """One JSON object of a kagent document, read key by key (see the module docstring)."""

    def __init__(self, data: dict[str, Any], source: Source, where: str = "") -> None:
        self.data = data
        self.source = source
        self.where = where
        self._read: set[str] = set()
        self._children: list[Keys] = []

    def path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, problem: str) -> ConfigError:
        return self.source.error(self.path(key), problem)

    def has(self, key: str) -> bool:
        return not _empty(self.data.get(key))

    def skip(self, key: str) -> None:
        """Count `key` as read: it needs nothing from us."""
        self._read.add(key)

    def text(self, key: str, *, required: bool = False) -> str | None:
        value: str | None = self._take(key, str, "a string")
        if value is None and required:
            raise self.error(key, "is required")
        return value

    def number(self, key: str) -> float | None:
        value = self._take(key, (int, float), "a number")
        return None if value is None else float(value)

    def integer(self, key: str) -> int | None:
        value = self._take(key, int, "a whole number")
        return None if value is None else int(value)

    def flag(self, key: str) -> bool | None:
        value: bool | None = self._take(key, bool, "true or false")
        return value

    def strings(self, key: str) -> list[str]:
        """A list of strings (`[]` when absent)."""
        values = self._take(key, list, "a list of strings") or []
        for index, value in enumerate(values):
            if not isinstance(value, str) or not value:
                raise self.source.error(f"{self.path(key)}[{index}]", "must be a non-empty string")
        return list(values)

    def mapping(self, key: str) -> dict[str, str]:
        """An object of strings (`{}` when absent)."""
        values = self._take(key, dict, "an object") or {}
        for name, value in values.items():
            if not isinstance(value, str):
                raise self.source.error(f"{self.path(key)}.{name}", "must be a string")
        return dict(values)

    def child(self, key: str) -> Keys | None:
        value = self._take(key, dict, "an object")
        return None if value is None else self._adopt(Keys(value, self.source, self.path(key)))

    def children(self, key: str) -> list[Keys]:
        values = self._take(key, list, "a list of objects") or []
        found = []
        for index, value in enumerate(values):
            where = f"{self.path(key)}[{index}]"
            if not isinstance(value, dict):
                raise self.source.error(where, "must be an object")
            found.append(self._adopt(Keys(value, self.source, where)))
        return found

    def unread(self) -> list[str]:
        """The paths of keys present (and not empty) that nothing read, here and below."""
        paths = [
            self.path(k) for k, v in self.data.items() if k not in self._read and not _empty(v)
        ]
        for child in self._children:
            paths += child.unread()
        return paths

    def _adopt(self, child: Keys) -> Keys:
        self._children.append(child)
        return child

    def _take(self, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        self._read.add(key)
        value = self.data.get(key)
        if _empty(value):
            return None
        # JSON's true is no number here, though Python's bool is an int.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.error(key, f"must be {what} (got {value!r})")
        return value
