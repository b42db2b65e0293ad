"""Tools the LLM can call: the tool-type protocol, the built-in types and the registry."""

from __future__ import annotations

from .base import ToolType
from .registry import TOOL_TYPES, ToolRegistry

__all__ = ["TOOL_TYPES", "ToolRegistry", "ToolType"]
