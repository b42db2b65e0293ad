"""`execute_tool`: run one tool call. Caller mistakes and definitive tool failures become an
error result for the LLM; transient failures raise so that Temporal retries."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..errors import ToolError, ToolSpecError
from ..events import EventStore
from ..models import ExpandToolsInput, ToolCallInput, ToolResult, ToolSpec
from ..payloads import offload
from ..tools import ToolRegistry
from .heartbeat import heartbeating

__all__ = ["ToolActivities"]


class ToolActivities:
    def __init__(self, tools: ToolRegistry, store: EventStore) -> None:
        self.tools = tools
        self.store = store

    @activity.defn(name="expand_tools")
    async def expand_tools(self, input: ExpandToolsInput) -> list[ToolSpec]:
        """Replace specs that stand for many tools (a whole MCP server) by those tools."""
        try:
            async with heartbeating():
                return await self.tools.expand(input.tools)
        except ToolSpecError as exc:
            raise ApplicationError(exc.message, type="ToolSpecError", non_retryable=True) from exc
        except ToolError as exc:
            raise ApplicationError(
                exc.message, type="ToolError", non_retryable=not exc.retryable
            ) from exc

    @activity.defn(name="execute_tool")
    async def execute_tool(self, input: ToolCallInput) -> ToolResult:
        call, spec = input.call, input.spec

        def error(message: str) -> ToolResult:
            return ToolResult(tool_call_id=call.id, name=call.name, content=message, is_error=True)

        if call.arguments_error:
            return error(call.arguments_error)
        try:
            async with heartbeating():
                content = await self.tools.call(spec, call)
        except ToolSpecError as exc:
            return error(exc.message)
        except ToolError as exc:
            if exc.retryable:
                raise ApplicationError(exc.message, type="ToolError") from exc
            return error(exc.message)
        key = f"{input.task_id}/tool/{call.id}"
        content, ref = await offload(self.store, key, content, input.inline_bytes)
        return ToolResult(tool_call_id=call.id, name=call.name, content=content, content_ref=ref)
