"""`execute_tool` runs one tool call; `expand_tools` lists what specs standing for many tools
(a whole MCP server) stand for. Caller mistakes and definitive tool failures become an error
result for the LLM; transient failures raise so that Temporal retries. A call under shared
limits (`capacity.py`) takes its place first; without one it returns at once a result that
says how long to wait.

What a call made besides its text (files, images, links, structured values) becomes the
task's artifacts: their contents are kept in the store's blobs (never in history), each is
announced by an `artifact.created` event before the call's `tool.result`, and the images among
them go to the model with the result (`parts`)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field
from temporalio import activity

from ..errors import ToolError, ToolSpecError, to_failure
from ..llm.media import kind_of
from ..llm.messages import Message, Part, ToolCall
from ..observability import ToolCallWatch
from ..payloads import artifact_key, offload, put_bytes, resolve
from ..store import Blobs, EventLog, NewEvent
from ..tasks import Artifact, EventType
from ..tools import ToolFile, ToolOutput, ToolRegistry, ToolSpec
from ..versioned import Versioned
from .artifacts import artifact_event
from .capacity import Capacity, CapacityWait, MayWait, WaitsForCapacity, waiting
from .heartbeat import heartbeating

__all__ = ["ExpandToolsInput", "ToolActivities", "ToolCallInput", "ToolResult"]

_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]")


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
    kept in the store's blobs. With `wait` set, the call was not made (no capacity yet).
    `artifacts`: what the call made for the task; `parts`: those of them the model is sent
    with the result (images)."""

    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    content_ref: str | None = None
    parts: list[Part] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)

    @classmethod
    def error(cls, call: ToolCall, message: str) -> ToolResult:
        return cls(tool_call_id=call.id, name=call.name, content=message, is_error=True)

    @classmethod
    def waiting(cls, call: ToolCall, wait: CapacityWait) -> ToolResult:
        return cls(tool_call_id=call.id, name=call.name, content="", wait=wait)

    def message(self) -> Message:
        """The result as the `tool` message the LLM gets next."""
        return Message(role="tool", **self.model_dump(exclude={"v", "wait", "artifacts"}))

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
        kept = await self.kept(input.task_id, input.call, input.inline_bytes)
        if kept is not None:
            return kept
        ran = await self._run(input)
        if isinstance(ran, CapacityWait):
            return ToolResult.waiting(input.call, ran)
        output, failed = ran
        return await self.keep(input.task_id, input.call, output, input.inline_bytes, failed)

    async def kept(self, task_id: str, call: ToolCall, inline_bytes: int = 0) -> ToolResult | None:
        """The result of `call` when a run of it ended before (its events written again:
        under the same keys, so once), else None."""
        kept = await self.blobs.get(_memo(task_id, call.id))
        if kept is None:
            return None
        result = ToolResult.model_validate_json(kept)
        await self._publish(task_id, result, None, inline_bytes)
        return result

    async def keep(
        self,
        task_id: str,
        call: ToolCall,
        content: str | ToolOutput,
        inline_bytes: int,
        failed: bool = False,
    ) -> ToolResult:
        """Keep what a run of `call` returned (`failed`: an error for the LLM; a long content
        offloaded, its files stored as artifacts) and write its events; the result kept
        first, should another attempt have kept its own."""
        output = content if isinstance(content, ToolOutput) else ToolOutput(content)
        if failed:
            result = ToolResult.error(call, output.text)
        else:
            key = f"{task_id}/tool/{call.id}"
            preview, ref = await offload(self.blobs, key, output.text, inline_bytes)
            artifacts, parts = await self._keep_files(task_id, call, output)
            result = ToolResult(
                tool_call_id=call.id,
                name=call.name,
                content=preview,
                content_ref=ref,
                parts=parts,
                artifacts=artifacts,
            )
        kept = await self.blobs.put_new(_memo(task_id, call.id), result.model_dump_json())
        if kept != result.model_dump_json():  # another attempt had kept its result first
            result = ToolResult.model_validate_json(kept)
            return await self._publish(task_id, result, None, inline_bytes)
        return await self._publish(task_id, result, output.text, inline_bytes)

    async def _publish(
        self, task_id: str, result: ToolResult, whole: str | None, inline_bytes: int
    ) -> ToolResult:
        if whole is None:
            whole = await resolve(self.blobs, result.content, result.content_ref)
        data = {**result.event(), "content": whole}
        data.pop("content_ref", None)
        events = [
            *[await artifact_event(self.blobs, a, inline_bytes) for a in result.artifacts],
            NewEvent(result.event_key(), EventType.TOOL_RESULT, data),
        ]
        await self.events.append_all(task_id, events)
        return result

    async def _keep_files(
        self, task_id: str, call: ToolCall, output: ToolOutput
    ) -> tuple[list[Artifact], list[Part]]:
        """The call's files as artifacts (their contents stored), and the parts of them the
        model is sent."""
        artifacts: list[Artifact] = []
        parts: list[Part] = []
        for n, file in enumerate(output.files):
            artifact_id = f"{_ID_CHARS.sub('_', call.id)[:100]}-{n}"
            artifact = Artifact(
                artifact_id=artifact_id,
                tool_call_id=call.id,
                type="data" if file.data is not None else kind_of(file.media_type),
                media_type=file.media_type,
                name=file.name,
                url=file.url,
            )
            content = _content(file)
            if content is not None:
                key = artifact_key(task_id, artifact_id)
                await put_bytes(self.blobs, key, content)
                artifact = artifact.model_copy(update={"blob": key, "size": len(content)})
                if file.to_model:
                    parts.append(Part.model_validate(artifact.model_dump(include=_PART_FIELDS)))
            artifacts.append(artifact)
        return artifacts, parts

    async def _run(self, input: ToolCallInput) -> tuple[ToolOutput, bool] | CapacityWait:
        """What the call returned, and whether that is an error for the LLM; or how long to
        wait for capacity."""
        call, spec = input.call, input.spec
        if call.arguments_error:
            return ToolOutput(call.arguments_error), True
        lease = await self.capacity.tool(spec).acquire(f"{input.task_id}/tool/{call.id}")
        if isinstance(lease, CapacityWait):
            return waiting(lease, input.may_wait)
        try:
            async with lease, heartbeating():
                with ToolCallWatch(spec, call, task_id=input.task_id) as watch:
                    output = await self.tools.call(spec, call)
                    watch.returned(output.text)
        except ToolSpecError as exc:
            return ToolOutput(exc.message), True
        except ToolError as exc:
            if exc.retryable:
                raise to_failure(exc) from exc
            return ToolOutput(exc.message), True
        return output, False


_PART_FIELDS = set(Part.model_fields) - {"data"}


def _content(file: ToolFile) -> bytes | None:
    if file.data is not None:
        return json.dumps(file.data, separators=(",", ":"), ensure_ascii=False).encode()
    return file.content
