"""`execute_tool` runs one tool call; `expand_tools` lists what specs standing for many tools
(a whole MCP server) stand for. Caller mistakes and definitive tool failures become an error
result for the LLM; transient failures raise so that Temporal retries. A call under shared
limits (`capacity.py`) takes its place first; without one it returns at once a result that
says how long to wait."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from ..errors import ToolError, ToolSpecError, to_failure
from ..llm.messages import Message, ToolCall
from ..observability import ToolCallWatch
from ..payloads import offload, resolve
from ..store import Blobs, EventLog
from ..tasks import EventType
from ..tools import ToolRegistry, ToolSpec
from ..versioned import Versioned
from .capacity import Capacity, CapacityWait, MayWait, WaitsForCapacity, waiting
from .heartbeat import heartbeating

__all__ = ["ExpandToolsInput", "ToolActivities", "ToolCallInput", "ToolResult"]


def _memo(task_id: str, call_id: str) -> str:
    """Where a call's result is kept once a run of it ended."""
    return f"{task_id}/tool/{call_id}/result"


class ToolCallInput(Versioned, WaitsForCapacity):
    task_id: str
    call: ToolCall
    spec: ToolSpec
    inline_bytes: int


class ExpandToolsInput(Versioned):
    task_id: str
    tools: list[ToolSpec]


class ToolResult(Versioned, MayWait):
    """A tool call's result; a large `content` is a preview and `content_ref` names the whole,
    kept in the store's blobs. With `wait` set, the call was not made (no capacity yet)."""

    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    content_ref: str | None = None

    @classmethod
    def error(cls, call: ToolCall, message: str) -> ToolResult:
        return cls(tool_call_id=call.id, name=call.name, content=message, is_error=True)

    @classmethod
    def waiting(cls, call: ToolCall, wait: CapacityWait) -> ToolResult:
        return cls(tool_call_id=call.id, name=call.name, content="", wait=wait)

    def message(self) -> Message:
        """The result as the `tool` message the LLM gets next."""
        return Message(role="tool", **self.model_dump(exclude={"v", "wait"}))

    def event(self) -> dict[str, Any]:
        """The result as the data of its `tool.result` event."""
        return self.model_dump(mode="json", exclude={"v", "wait"})

    def event_key(self) -> str:
        """The key of its `tool.result` event: one a call, whoever writes it."""
        return f"tool:{self.tool_call_id}"


class ToolActivities:
    def __init__(
        self, tools: ToolRegistry, blobs: Blobs, events: EventLog, capacity: Capacity
    ) -> None:
        self.tools = tools
        self.blobs = blobs
        self.events = events
        self.capacity = capacity

    @activity.defn(name="expand_tools")
    async def expand_tools(self, input: ExpandToolsInput) -> list[ToolSpec]:
        """Replace specs that stand for many tools (a whole MCP server) by those tools."""
        try:
            async with heartbeating():
                return await self.tools.expand(input.tools)
        except (ToolSpecError, ToolError) as exc:
            raise to_failure(exc) from exc

    @activity.defn(name="execute_tool")
    async def execute_tool(self, input: ToolCallInput) -> ToolResult:
        """Run the call, unless it ran to its end before: the store keeps its result, so a
        call run again after it finished (its worker died before Temporal recorded it) is not
        made twice. The `tool.result` event is written here, the whole content in it."""
        kept = await self.kept(input.task_id, input.call)
        if kept is not None:
            return kept
        ran = await self._run(input)
        if isinstance(ran, CapacityWait):
            return ToolResult.waiting(input.call, ran)
        content, failed = ran
        return await self.keep(input.task_id, input.call, content, input.inline_bytes, failed)

    async def kept(self, task_id: str, call: ToolCall) -> ToolResult | None:
        """The result of `call` when a run of it ended before (its `tool.result` written
        again: under the same key, so once), else None."""
        kept = await self.blobs.get(_memo(task_id, call.id))
        if kept is None:
            return None
        result = ToolResult.model_validate_json(kept)
        await self._publish(task_id, result, None)
        return result

    async def keep(
        self, task_id: str, call: ToolCall, content: str, inline_bytes: int, failed: bool = False
    ) -> ToolResult:
        """Keep what a run of `call` returned (`failed`: an error for the LLM; a long content
        offloaded) and write its `tool.result`; the result kept first, should another
        attempt have kept its own."""
        if failed:
            result = ToolResult.error(call, content)
        else:
            key = f"{task_id}/tool/{call.id}"
            preview, ref = await offload(self.blobs, key, content, inline_bytes)
            result = ToolResult(
                tool_call_id=call.id, name=call.name, content=preview, content_ref=ref
            )
        kept = await self.blobs.put_new(_memo(task_id, call.id), result.model_dump_json())
        if kept != result.model_dump_json():  # another attempt had kept its result first
            return await self._publish(task_id, ToolResult.model_validate_json(kept), None)
        return await self._publish(task_id, result, content)

    async def _publish(self, task_id: str, result: ToolResult, whole: str | None) -> ToolResult:
        if whole is None:
            whole = await resolve(self.blobs, result.content, result.content_ref)
        data = {**result.event(), "content": whole}
        data.pop("content_ref", None)
        await self.events.append(task_id, result.event_key(), EventType.TOOL_RESULT, data)
        return result

    async def _run(self, input: ToolCallInput) -> tuple[str, bool] | CapacityWait:
        """What the call returned, and whether that is an error for the LLM; or how long to
        wait for capacity."""
        call, spec = input.call, input.spec
        if call.arguments_error:
            return call.arguments_error, True
        lease = await self.capacity.tool(spec).acquire(f"{input.task_id}/tool/{call.id}")
        if isinstance(lease, CapacityWait):
            return waiting(lease, input.may_wait)
        try:
            async with lease, heartbeating():
                with ToolCallWatch(spec, call, task_id=input.task_id) as watch:
                    content = await self.tools.call(spec, call)
                    watch.returned(content)
        except ToolSpecError as exc:
            return exc.message, True
        except ToolError as exc:
            if exc.retryable:
                raise to_failure(exc) from exc
            return exc.message, True
        return content, False
