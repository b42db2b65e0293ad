"""Tools the LLM can call: the spec (`spec.py`), the tool-type protocol (`base.py`), the
built-in types (`http`, `mcp`, `builtin`) and the registry that picks one by `type`."""

from __future__ import annotations

from ..spec import TOOL_NAME_PATTERN, ToolSpec
from .base import ToolFile, ToolOutput, ToolType
from .registry import TOOL_TYPES, ToolRegistry

__all__ = [
    "TOOL_NAME_PATTERN",
    "TOOL_TYPES",
    "ToolFile",
    "ToolOutput",
    "ToolRegistry",
    "ToolSpec",
    "ToolType",
]
