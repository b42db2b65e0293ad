"""Which tool types this worker can run, keyed by a tool spec's `type`.

How the service uses it:
- at start-up, `ToolRegistry(settings)`: checks `tools.mcp_servers` (a `ConfigError` naming the
  key) without importing the MCP SDK or starting anything;
- at submission, `validate(specs)` (no I/O): an unknown type, a bad `config`, parameters that
  are not valid JSON Schema → `ToolSpecError` (HTTP 400); then `expands(specs)`;
- in the `expand_tools` activity, when `expands` said so: `expand(specs)` → the concrete specs
  (a whole MCP server's tools; built-ins and MCP tools with their schemas filled in), checked
  again, names unique;
- in `execute_tool`: `call(spec, call)`; at worker shutdown: `aclose()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import ToolSpecError
from ..plugins import Plugins
from ..spec import ToolSpec
from .base import ToolType
from .mcp_config import parse_servers
from .schema import check_parameters

if TYPE_CHECKING:
    from ..config import ToolsConfig
    from ..llm.messages import ToolCall

__all__ = ["TOOL_TYPES", "ToolRegistry"]

TOOL_TYPES = Plugins(
    "temporal_executor.tools",
    {
        "http": ".tools.http:HttpTool",
        "mcp": ".tools.mcp:McpTool",
        "builtin": ".tools.builtin:BuiltinTool",
        "agent": ".tools.agent:AgentTool",
    },
)


class ToolRegistry:
    """One instance of each tool type, created when first used, sharing its connections.
    `types` adds tool types by name beside the built-in and installed ones (tests use it for
    `temporal_executor.testing.ScriptedTool`)."""

    def __init__(
        self, settings: ToolsConfig, types: Mapping[str, type[ToolType]] | None = None
    ) -> None:
        self.settings = settings
        self._types = dict(types or {})
        self._tools: dict[str, ToolType] = {}
        # A bad server entry should stop the service at start-up, not fail a request later.
        parse_servers(settings.mcp_servers)

    def type_of(self, spec: ToolSpec) -> ToolType:
        """The tool type that runs `spec` (`ToolSpecError` for an unknown type)."""
        tool = self._tools.get(spec.type)
        if tool is None:
            cls = self._types.get(spec.type) or TOOL_TYPES.load(spec.type)
            if cls is None:
                known = ", ".join(sorted({*TOOL_TYPES.names(), *self._types}))
                raise ToolSpecError(
                    f"tool {spec.name!r}: unknown type {spec.type!r} (known: {known})"
                )
            tool = self._tools[spec.type] = cls(self.settings)
        return tool

    def validate(self, specs: Sequence[ToolSpec]) -> None:
        """Raise `ToolSpecError` for the first unusable spec (at submission, no I/O)."""
        for spec in specs:
            check_parameters(spec)
            self.type_of(spec).validate(spec)

    def expands(self, specs: Sequence[ToolSpec]) -> bool:
        """Whether any spec must be expanded (by `expand`, in an activity) before use."""
        return any(self.type_of(spec).expands(spec) for spec in specs)

    async def expand(self, specs: list[ToolSpec]) -> list[ToolSpec]:
        """Every spec replaced by the concrete tools it stands for (I/O allowed). Raises
        `ToolSpecError` when the result is unusable (a bad schema, a name used twice) and
        `ToolError` when a server cannot be reached."""
        expanded: list[ToolSpec] = []
        for spec in specs:
            tool = self.type_of(spec)
            expanded += await tool.expand(spec) if tool.expands(spec) else [spec]
        seen: set[str] = set()
        for spec in expanded:
            check_parameters(spec)
            if spec.name in seen:
                raise ToolSpecError(
                    f"tool name {spec.name!r} occurs twice after expanding the tools; "
                    "rename one of the specs"
                )
            seen.add(spec.name)
        return expanded

    def side_effects(self, spec: ToolSpec) -> bool:
        """Whether a call of `spec` may change something outside (an unknown type: yes)."""
        try:
            return self.type_of(spec).side_effects(spec)
        except ToolSpecError:
            return True

    async def call(self, spec: ToolSpec, call: ToolCall) -> str:
        return await self.type_of(spec).call(spec, call)

    async def aclose(self) -> None:
        for tool in self._tools.values():
            await tool.aclose()
