"""`call_agent`: one round of a call of an `agent` tool (`tools/agent.py`): another agent,
asked over A2A, followed until its turn ends or it pauses for a person.

Round 0 sends the request: one text part, `message_id` = the tool call's id, `contextId` = a
conversation per session and tool (`isolate_sessions`: per call), derived from those ids so
that every attempt uses the same; headers as kagent's agents send them (`x-kagent-source:
agent`, `x-user-id` when the task knows its user, `A2A-Extensions` with kagent's HITL
extension, `x-kagent-parent-context-id` = our session, `x-kagent-root-context-id` = the one
we were given, else our session) and the spec's own. The agent's task id is kept in the store
as soon as the agent names it: an attempt after that (its worker died, say) follows that task
(SubscribeToTask, else GetTask until the turn is over) and never sends the request again.
Between sending and keeping, a temporal-executor agent answers a request sent again with
the task it started (it knows the message id); kagent's agents take it as a new request.

A round after a pause (the workflow's: the person decided) sends the decision to the paused
task (`kagent/hitl.py` writes it in the flavour the agent paused in), unless the task no
longer waits on that pause (an earlier attempt sent it): then it follows the task.

The agent's text reaches our event log as `tool.progress` events while it works. The result:
the call's `ToolResult` when the agent's turn ended (its `tool.result` written, kept like
`execute_tool`'s), or the `ChildPause` it waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from a2a.client import Client, ClientCallContext
from a2a.client.errors import A2AClientError
from a2a.helpers import new_text_part
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Role,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.errors import A2AError
from temporalio import activity

from .. import tenants
from ..errors import ToolError, to_failure
from ..kagent.hitl import (
    HITL_EXTENSION_HEADER,
    HITL_EXTENSION_URI,
    ChildPause,
    ChildReply,
    pause_of,
    reply_message,
)
from ..llm.messages import ToolCall
from ..observability import ToolCallWatch
from ..store import Blobs, EventLog
from ..tasks import EventType
from ..tools import ToolRegistry, ToolSpec
from ..tools.agent import AgentTool
from ..tools.agent_turn import ChildTurn
from ..versioned import Versioned
from .capacity import CapacityWait, MayWait, WaitsForCapacity, waiting
from .deltas import DeltaPublisher
from .heartbeat import heartbeating
from .tools import ToolActivities, ToolResult

__all__ = ["AgentActivities", "AgentCallInput", "AgentCallResult"]

# Contexts we make for the agents we call: the same ids, whoever computes them.
_CONTEXTS = uuid.UUID("7b0b6f0e-4f5a-4c0e-9a57-2f1a3d1b8c01")
POLL_INTERVAL = 1.0  # seconds between GetTask calls when no stream follows the task


class AgentCallInput(Versioned, WaitsForCapacity):
    """One round of the call `call` of the agent tool `spec` by task `task_id`: round 0
    sends the request; a later one sends `reply` to the task paused on `pause`."""

    task_id: str
    session_id: str
    call: ToolCall
    spec: ToolSpec
    inline_bytes: int
    round: int = 0
    pause: ChildPause | None = None
    reply: ChildReply | None = None
    user_id: str | None = None
    root_context_id: str | None = None


class AgentCallResult(Versioned, MayWait):
    """The call's result (the agent's turn ended), or what the agent waits for (or, with
    `wait`, nothing yet: no capacity under the tool's limits)."""

    result: ToolResult | None = None
    pause: ChildPause | None = None


class AgentActivities:
    """`call_agent`, over the tool registry (its `agent` type makes the A2A clients), the
    tool activities (which keep a call's result and write its `tool.result`), the store's
    blobs (the agent's task id, once named) and the event log (`tool.progress`)."""

    def __init__(
        self, tools: ToolRegistry, results: ToolActivities, blobs: Blobs, events: EventLog
    ) -> None:
        self.tools = tools
        self.results = results
        self.blobs = blobs
        self.events = events

    @activity.defn(name="call_agent")
    async def call_agent(self, input: AgentCallInput) -> AgentCallResult:
        kept = await self.results.kept(input.task_id, input.call)
        if kept is not None:
            return AgentCallResult(result=kept)
        name = input.spec.name
        key = f"{input.task_id}/tool/{input.call.id}"
        lease = await self.results.capacity.tool(input.spec).acquire(key)
        if isinstance(lease, CapacityWait):
            return AgentCallResult(wait=waiting(lease, input.may_wait))
        try:
            async with lease, heartbeating():
                with ToolCallWatch(input.spec, input.call, task_id=input.task_id) as watch:
                    turn = await self._round(input)
                    watch.returned(turn.result())
            if turn.waiting:
                message = turn.message
                pause = pause_of(turn.task_id, turn.context_id, message) if message else None
                if pause is not None:
                    return AgentCallResult(pause=pause)
                raise ToolError(
                    f"Remote agent '{name}' requested input without a valid HITL extension."
                )
            content, failed = turn.result(), turn.failed or not turn.ended
            if failed and not content:
                content = f"Remote agent '{name}' ended its turn {_state(turn)}."
        except ToolError as exc:
            if exc.retryable:
                raise to_failure(exc) from exc
            content, failed = exc.message, True
        except ValueError as exc:  # what it waits for cannot be read
            content, failed = f"Remote agent '{name}': {exc}", True
        result = await self.results.keep(
            input.task_id, input.call, content, input.inline_bytes, failed
        )
        return AgentCallResult(result=result)

    async def _round(self, input: AgentCallInput) -> ChildTurn:
        tool = self.tools.type_of(input.spec)
        assert isinstance(tool, AgentTool)
        client = await tool.client(input.spec)
        attempt = activity.info().attempt
        progress = DeltaPublisher(
            self.events,
            input.task_id,
            f"agent:{input.call.id}:{input.round}",
            attempt,
            type=EventType.TOOL_PROGRESS,
            extra={"tool_call_id": input.call.id, "name": input.spec.name},
        )
        context = ClientCallContext(service_parameters=_headers(input, tool))
        follow = Following(client, context, progress, restarted=attempt > 1)
        memo = f"{input.task_id}/agent/{input.call.id}"

        async def named(task_id: str, context_id: str) -> None:
            await self.blobs.put_new(
                memo, json.dumps({"task_id": task_id, "context_id": context_id})
            )

        try:
            if input.pause is not None and input.reply is not None:
                await follow.reply(input.pause, input.reply, f"{input.call.id}:{input.round}")
            elif (known := await self.blobs.get(memo)) is not None:
                await follow.task(json.loads(known)["task_id"])
            else:
                message = _request(input, _context_id(input))
                await follow.stream(client.send_message(_send(message), context=context), named)
            return follow.turn
        except A2AClientError as exc:  # the network, a timeout, a status the SDK did not map
            raise ToolError(f"Remote agent '{input.spec.name}': {exc}", retryable=True) from exc
        except A2AError as exc:  # the agent's answer: an A2A error
            raise ToolError(f"Remote agent '{input.spec.name}' request failed: {exc}") from exc
        except asyncio.CancelledError:
            # Our task was cancelled (or ran out of time): so is the agent's turn.
            if follow.turn.task_id and not follow.turn.over:
                with contextlib.suppress(Exception):
                    cancel = CancelTaskRequest(id=follow.turn.task_id)
                    await asyncio.wait_for(client.cancel_task(cancel, context=context), 5)
            raise
        finally:
            await progress.close()
            await client.close()


Named = Callable[[str, str], Awaitable[None]]


class Following:
    """Follows one agent task to the end of its turn (`turn`), its text published as
    progress: what is new since the last time, or (the first time in a retried attempt, or
    when the agent started over) all of it, replacing what was shown."""

    def __init__(
        self,
        client: Client,
        context: ClientCallContext,
        progress: DeltaPublisher,
        *,
        restarted: bool,
    ) -> None:
        self.client, self.context, self.progress = client, context, progress
        self.turn = ChildTurn()
        self._shown = ""
        self._replace = restarted
        self._answered: list[str] = []  # the ids of the pause a reply was sent to

    @property
    def over(self) -> bool:
        """The turn is over, unless what shows is still the pause just answered (the task
        as it stood when the reply came: the first thing a stream sends)."""
        if not self.turn.over:
            return False
        if self._answered and self.turn.waiting and self.turn.message is not None:
            with contextlib.suppress(ValueError):
                now = pause_of(self.turn.task_id, self.turn.context_id, self.turn.message)
                return now is None or [t.id for t in now.tools] != self._answered
        return True

    async def stream(
        self, responses: AsyncIterator[StreamResponse], named: Named | None = None
    ) -> None:
        """Fold `responses` until the turn is over; GetTask until then should the stream end
        first. `named(task_id, context_id)` is awaited once the agent has named its task."""
        try:
            async for response in responses:
                self.turn.apply(response)
                if named is not None and self.turn.task_id:
                    await named(self.turn.task_id, self.turn.context_id)
                    named = None
                await self._show()
                if self.over:
                    return
        finally:
            await responses.aclose()  # type: ignore[attr-defined]  # an async generator
        if self.turn.task_id:
            if named is not None:
                await named(self.turn.task_id, self.turn.context_id)
            await self._poll()

    async def task(self, task_id: str) -> None:
        """Follow a task that was sent its message before: its stream, else GetTask."""
        self.turn.task_id = task_id
        try:
            await self.stream(
                self.client.subscribe(SubscribeToTaskRequest(id=task_id), context=self.context)
            )
        except A2AError:  # it ended (TaskNotFound, UnsupportedOperation), or cannot stream
            await self._poll(now=True)

    async def reply(self, pause: ChildPause, reply: ChildReply, message_id: str) -> None:
        """Give `reply` to the task paused on `pause`, unless it no longer waits on it (an
        earlier attempt gave it: then, and when the agent refuses it for that reason, follow
        the task)."""
        await self._get(pause.task_id)
        self._shown = self.turn.text  # shown before it paused
        if not self._paused_on(pause):
            await self.task(pause.task_id)
            return
        answer = reply_message(pause, reply, message_id=message_id)
        self._answered = [t.id for t in pause.tools]
        try:
            await self.stream(self.client.send_message(_send(answer), context=self.context))
        except A2AError:
            await self._get(pause.task_id)
            if self._paused_on(pause):
                raise
            self._answered = []
            await self.task(pause.task_id)

    def _paused_on(self, pause: ChildPause) -> bool:
        """Whether the task, as last read, still waits on `pause`."""
        message = self.turn.message
        if not self.turn.waiting or message is None:
            return False
        now = pause_of(pause.task_id, pause.context_id, message)
        return now is not None and [t.id for t in now.tools] == [t.id for t in pause.tools]

    async def _poll(self, *, now: bool = False) -> None:
        while now or not self.over:
            if not now:
                await asyncio.sleep(POLL_INTERVAL)
            now = False
            await self._get(self.turn.task_id)
            await self._show()

    async def _get(self, task_id: str) -> None:
        task = await self.client.get_task(GetTaskRequest(id=task_id), context=self.context)
        self.turn.apply_task(task)

    async def _show(self) -> None:
        text = self.turn.text
        if self._replace and text:
            await self.progress.replace(text)
            self._replace = False
        elif text != self._shown:
            if text.startswith(self._shown):
                await self.progress.add(text[len(self._shown) :])
            else:
                await self.progress.replace(text)
        self._shown = text


def _state(turn: ChildTurn) -> str:
    return TaskState.Name(turn.state).removeprefix("TASK_STATE_").lower().replace("_", "-")


def _context_id(input: AgentCallInput) -> str:
    """The agent's conversation for this call: one per session and tool, or one per call
    (`isolate_sessions`); the same for every attempt."""
    config = input.spec.config
    owner = (
        f"{input.task_id}/{input.call.id}"
        if config.get("isolate_sessions")
        else f"{input.session_id}/{input.spec.name}"
    )
    return str(uuid.uuid5(_CONTEXTS, owner))


def _request(input: AgentCallInput, context_id: str) -> Message:
    """The request: one text part, under the call's id."""
    text = input.call.arguments.get("request")
    if input.call.arguments_error or not isinstance(text, str) or not text.strip():
        raise ToolError('the call needs {"request": "<what to ask the agent>"}')
    return Message(
        message_id=input.call.id,
        role=Role.ROLE_USER,
        context_id=context_id,
        parts=[new_text_part(text)],
    )


def _send(message: Message) -> SendMessageRequest:
    return SendMessageRequest(message=message)


def _headers(input: AgentCallInput, tool: AgentTool) -> dict[str, str]:
    """kagent's headers for a call of an agent tool, over the spec's own."""
    headers = dict(tool.config(input.spec).headers)
    session = tenants.name(input.session_id)  # as the task's tenant knows it
    headers.update(
        {
            "x-kagent-source": "agent",
            HITL_EXTENSION_HEADER: HITL_EXTENSION_URI,
            "x-kagent-parent-context-id": session,
            "x-kagent-root-context-id": input.root_context_id or session,
        }
    )
    if input.user_id:
        headers["x-user-id"] = input.user_id
    return headers
