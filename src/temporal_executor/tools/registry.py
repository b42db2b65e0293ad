"""Which tool types this worker can run, keyed by a tool spec's `type`."""

from __future__ import annotations

from ..config import ToolsConfig
from ..errors import ToolSpecError
from ..models import ToolCall, ToolSpec
from .base import ToolType
from .http import HttpTool

__all__ = ["TOOL_TYPES", "ToolRegistry"]

TOOL_TYPES: dict[str, type[ToolType]] = {HttpTool.type: HttpTool}


class ToolRegistry:
    """One instance of each tool type, sharing its connections across calls."""

    def __init__(self, settings: ToolsConfig) -> None:
        self._tools = {name: cls(settings) for name, cls in TOOL_TYPES.items()}

    def _get(self, spec: ToolSpec) -> ToolType:
        tool = self._tools.get(spec.type)
        if tool is None:
            known = ", ".join(sorted(self._tools))
            raise ToolSpecError(f"tool {spec.name!r}: unknown type {spec.type!r} (known: {known})")
        return tool

    def validate(self, specs: list[ToolSpec]) -> None:
        """Raise `ToolSpecError` for the first unusable spec (at submission, no I/O)."""
        for spec in specs:
            self._get(spec).validate(spec)

    async def call(self, spec: ToolSpec, call: ToolCall) -> str:
        return await self._get(spec).call(spec, call)

    async def aclose(self) -> None:
        for tool in self._tools.values():
            await tool.aclose()
