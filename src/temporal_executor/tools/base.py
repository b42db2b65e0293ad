"""The tool-type protocol: what every kind of tool (`http`, `mcp`, `builtin`, …) implements.

Contract:
- `validate(spec)` runs at task submission and raises `ToolSpecError` naming the bad field,
  so a malformed tool is a 400 before any workflow starts.
- `call(spec, call)` runs one tool call and returns its result as text. It raises `ToolError`:
  with `retryable=True` for transient failures (Temporal tries again), otherwise the message
  goes back to the LLM as an error result. The tool call id is the idempotency key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from ..config import ToolsConfig
from ..models import ToolCall, ToolSpec

__all__ = ["ToolType"]


class ToolType(ABC):
    """Base class of tool implementations; one instance per worker and tool type."""

    type: ClassVar[str]

    def __init__(self, settings: ToolsConfig) -> None:
        self.settings = settings

    def validate(self, spec: ToolSpec) -> None:  # noqa: B027 - optional hook
        """Raise `ToolSpecError` if `spec.config` is unusable."""

    def expands(self, spec: ToolSpec) -> bool:
        """True when `spec` stands for several tools that `expand` lists (e.g. a whole MCP
        server); the workflow then expands it in an activity before the first LLM call."""
        return False

    async def expand(self, spec: ToolSpec) -> list[ToolSpec]:
        """The concrete tools `spec` stands for, with their schemas."""
        return [spec]

    @abstractmethod
    async def call(self, spec: ToolSpec, call: ToolCall) -> str:
        """Run one call and return its result as text."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections or processes."""
