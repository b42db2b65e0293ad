"""Which tool types this worker can run, keyed by a tool spec's `type`."""

from __future__ import annotations

from ..config import ToolsConfig
from ..errors import ToolSpecError
from ..models import ToolCall, ToolSpec
from ..plugins import Plugins
from .base import ToolType

__all__ = ["TOOL_TYPES", "ToolRegistry"]

TOOL_TYPES = Plugins(
    "temporal_executor.tools",
    {
        "http": ".tools.http:HttpTool",
        "mcp": ".tools.mcp:McpTool",
        "builtin": ".tools.builtin:BuiltinTool",
    },
)


class ToolRegistry:
    """One instance of each tool type, created when first used, sharing its connections."""

    def __init__(self, settings: ToolsConfig) -> None:
        self.settings = settings
        self._tools: dict[str, ToolType] = {}

    def _get(self, spec: ToolSpec) -> ToolType:
        tool = self._tools.get(spec.type)
        if tool is None:
            cls = TOOL_TYPES.load(spec.type)
            if cls is None:
                known = ", ".join(TOOL_TYPES.names())
                raise ToolSpecError(
                    f"tool {spec.name!r}: unknown type {spec.type!r} (known: {known})"
                )
            tool = self._tools[spec.type] = cls(self.settings)
        return tool

    def validate(self, specs: list[ToolSpec]) -> None:
        """Raise `ToolSpecError` for the first unusable spec (at submission, no I/O)."""
        for spec in specs:
            self._get(spec).validate(spec)

    def expands(self, specs: list[ToolSpec]) -> bool:
        """Whether any spec stands for several tools that only its server can list."""
        return any(self._get(spec).expands(spec) for spec in specs)

    async def expand(self, specs: list[ToolSpec]) -> list[ToolSpec]:
        """Every spec replaced by the concrete tools it stands for (I/O allowed)."""
        expanded: list[ToolSpec] = []
        for spec in specs:
            tool = self._get(spec)
            expanded += await tool.expand(spec) if tool.expands(spec) else [spec]
        return expanded

    async def call(self, spec: ToolSpec, call: ToolCall) -> str:
        return await self._get(spec).call(spec, call)

    async def aclose(self) -> None:
        for tool in self._tools.values():
            await tool.aclose()
