"""Built-in implementations by name, plus third-party ones from entry points.

Built-ins are named as `module:Class` and imported on first use, so a server that never uses
a vendor SDK never pays for importing it. Third parties add providers or tool types through
the entry point groups `temporal_executor.providers` and `temporal_executor.tools`; an entry
point's name is the provider name (or tool `type`) and its object is the class.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import Any

__all__ = ["Plugins", "import_path"]


class Plugins:
    """A name → class table: built-ins given as `module:Class`, entry points added."""

    def __init__(self, group: str, builtins: dict[str, str]) -> None:
        self.group = group
        self.builtins = builtins

    def names(self) -> list[str]:
        return sorted({*self.builtins, *_entry_points(self.group)})

    def load(self, name: str) -> Any | None:
        """The class registered under `name`, or None."""
        target = self.builtins.get(name)
        if target is not None:
            return import_path(target)
        entry = _entry_points(self.group).get(name)
        return entry.load() if entry is not None else None


def import_path(target: str) -> Any:
    """The object a `module:attribute` path names (a relative module within this package)."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module, __package__), attribute)


@cache
def _entry_points(group: str) -> dict[str, Any]:
    return {entry.name: entry for entry in entry_points(group=group)}
