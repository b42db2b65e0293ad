"""`AgentExecutionWorkflow`: the agent loop, as deterministic orchestration only.

LLM call → (approval, when required) → tool calls in parallel → LLM call … until the LLM
answers without tool calls; the task fails (transcript kept) after `max_iterations` LLM calls,
past `max_total_tokens`, or at its time limit (`timeout`: tools in flight are cancelled). An
LLM call that fails for good is made again with the next of `model_config.fallbacks`. A task
queued behind another of its session waits for its turn first; a new message may stop it
(`turn_step.py`).
Each step's events and the task's state are written by one local activity (`record`); every
event gets its key from the workflow's own counter, so a replay or an activity retry never
publishes an event twice.
"""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from ..activities import ExpandToolsInput, ToolActivities
    from ..llm.messages import Message, Part
    from ..tasks import EventType, TaskError, TaskResult, TaskState, TaskStatus, terminal_event
    from .failures import TaskFailed, TaskStopped, reraise_cancellation
    from .inputs import LEGACY_LOOP, AgentCarry, AgentInput
    from .steps import Steps

from .human import STOPPED
from .legacy import LegacyLoop
from .llm_step import LLMStep
from .tool_step import ToolStep
from .turn_step import TurnSteps

__all__ = ["AgentExecutionWorkflow"]


@workflow.defn(name="AgentExecutionWorkflow")
class AgentExecutionWorkflow(LLMStep, ToolStep, LegacyLoop, TurnSteps):
    """The loop. Its steps come from the classes it inherits: the LLM call with fallbacks
    (`LLMStep`, `llm_step.py`), the tool calls (`ToolStep`, `tool_step.py`; calls of other
    agents: `AgentToolStep`, `agent_tool.py`), the handlers and waits for people
    (`HumanSteps`, `human.py`), which make calls as `ActivityCalls` does (`calls.py`), the
    task's turn in its session (`TurnSteps`, `turn_step.py`), and the loop of release
    0.1.0+254ae33 for the tasks it started (`LegacyLoop`, `legacy.py`)."""

    @workflow.init
    def __init__(self, input: AgentInput) -> None:
        self.input = input
        self._started = workflow.time()
        self.state = TaskState(
            task_id=input.task_id,
            session_id=input.session_id,
            approved_tools=list(input.approved_tools),
            model=f"{input.model.provider}/{input.model.model}",
            created_at=self._started,
            priority=input.dispatch.priority,
        )
        self._steps = Steps(input.task_id, input.session_id)
        self._history_seen = self._markers = 0  # see _history_is_long
        self._stored_messages = 0
        self._unsaved: list[Message] = []
        self._init_human()
        self._init_turns(input.carry.followers if input.carry is not None else [])
        self._init_agent_tools()
        self._tools = input.tools
        if input.carry is not None:
            carry = input.carry
            self.state = carry.state
            self._steps.seq = carry.seq
            self._stored_messages = carry.stored_messages
            self._unsaved = carry.unsaved
            self._tools = carry.tools
            self._started = carry.started

    # --- handlers ------------------------------------------------------------------------

    @workflow.query(name="state")
    def state_query(self) -> TaskState:
        return self.state

    # --- the loop ------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: AgentInput) -> TaskState:
        # A task that release 0.1.0+254ae33 started takes that release's steps (legacy.py).
        # A fork starts where its parent's steps end (`_start_fork`): a path only an input
        # with `fork` takes, which no task started before forks has.
        start, loop, finish = (
            (self._start_254ae33, self._loop_254ae33, self._finish_254ae33)
            if input.loop == LEGACY_LOOP
            else (
                self._start if input.fork is None else self._start_fork,
                self._loop_in_time,
                self._finish,
            )
        )
        try:
            if input.carry is None:
                if input.queued_behind is not None:
                    await self._wait_for_turn(input.queued_behind)
                await start()
            answer = await loop()
        except TaskStopped as stopped:  # by a new message in its session
            await self._finish_stopped(stopped)
        except TaskFailed as failed:
            await finish(TaskStatus.FAILED, error=failed.error)
            await self._tell_followers()
            raise ApplicationError(failed.error.message, type=failed.error.code) from None
        except asyncio.CancelledError:
            # By a person, or (`rollback`) by a new message, as its stop says (a task in
            # the loop of 0.1.0+254ae33 is only ever cancelled).
            if self._stop is None or input.loop == LEGACY_LOOP:
                await finish(TaskStatus.CANCELLED)
            else:
                await self._finish_stopped(TaskStopped(self._stop))
            await self._tell_followers()
            raise
        else:
            result = TaskResult(content=answer.content or "", content_ref=answer.content_ref)
            await finish(TaskStatus.COMPLETED, result=result)
        await self._tell_followers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    async def _start(self) -> None:
        self._steps.publish(EventType.TASK_STARTED, self._started_data())
        self._stored_messages = await self._record(count_transcript=True)
        if self.input.expand_tools:
            await self._expand_tools()
        self._turn_messages()

    async def _start_fork(self) -> None:
        """A fork's start: its seed (the parent's transcript up to the fork's step) written
        into its session, the LLM calls of the seed counted, then the calls of a tool step
        run again, and the user's new turn, if any, for the next LLM call."""
        fork = self.input.fork
        assert fork is not None
        self.state.iterations = fork.iterations
        origin = {"task_id": fork.parent_task_id, "at_step": fork.at_step}
        self._steps.publish(EventType.TASK_STARTED, {**self._started_data(), "forked_from": origin})
        turn_start = await self._record(count_transcript=True, seed=fork.seed_ref)
        self._stored_messages = turn_start + fork.seed_messages
        if self.input.expand_tools:
            await self._expand_tools()
        if fork.tool_calls:
            # The LLM's message with these calls is the seed's last; their results follow it.
            turn = Message(role="assistant", tool_calls=fork.tool_calls)
            self._unsaved = (await self._run_tools(turn))[1:]
        if fork.user_turn:  # (its user_parts: when it gives its first message again)
            input = self.input
            self._unsaved.append(
                Message(
                    role="user",
                    content=input.user_message,
                    parts=input.user_parts,
                    id=input.user_message_id,
                )
            )

    def _started_data(self) -> dict[str, Any]:
        """The data of `task.started`."""
        input = self.input
        return {
            "session_id": input.session_id,
            "user_message": input.user_message,
            **({"message_id": input.user_message_id} if input.user_message_id else {}),
            **({"parts": _described(input.user_parts)} if input.user_parts else {}),
            "model": input.model.model_dump(mode="json"),
        }

    def _turn_messages(self) -> None:
        """The turn's first messages, for the first LLM call. A session's system message is
        its first turn's: later turns continue that conversation."""
        input = self.input
        if input.system_message and self._stored_messages == 0:
            self._unsaved.append(Message(role="system", content=input.system_message))
        self._unsaved.append(
            Message(
                role="user",
                content=input.user_message,
                parts=input.user_parts,
                id=input.user_message_id,
            )
        )

    async def _loop_in_time(self) -> Message:
        """The loop, stopped at the task's time limit (what is in flight is cancelled); a
        task of v1 (started before there was a limit) runs the loop without its timer."""
        if not self.input.time_limit_timer:
            return await self._loop()
        remaining = self.input.time_limit - (workflow.time() - self._started)
        try:
            return await asyncio.wait_for(self._loop(), timeout=max(remaining, 0.001))
        except TimeoutError:
            raise self._out_of_time() from None

    async def _loop(self) -> Message:
        while True:
            self._check_stop()
            if self._history_is_long():
                await self._continue_as_new()
            self._check_iterations()
            message = (await self._invoke_llm()).message
            self._unsaved = [message]
            self._check_budget()  # (the answer that passed it is kept in the transcript)
            if not message.tool_calls:
                return message
            if self._stop is not None:  # no tool runs: each call gets a result saying so
                self._unsaved = self._not_run(message, STOPPED)
                self._check_stop()
            self._unsaved = await self._run_tools(message)

    def _check_iterations(self) -> None:
        if self.state.iterations >= self.input.max_iterations:
            raise TaskFailed(
                "max_iterations",
                f"no final answer after {self.input.max_iterations} LLM calls "
                "(max_iterations reached)",
            )

    def _history_is_long(self) -> bool:
        """Whether to continue as new. A local activity's marker reaches history only when
        the workflow task completes (with fast calls a whole task can run in one), so markers
        are counted here until the history length shows them."""
        info = workflow.info()
        length = info.get_current_history_length()
        if length != self._history_seen:
            self._history_seen, self._markers = length, 0
        limit = self.input.policies.history_limit
        return info.is_continue_as_new_suggested() or length + self._markers >= limit

    async def _continue_as_new(self) -> NoReturn:
        """Hand the loop's state to a fresh run: history stays bounded however long the task.
        The next run takes this release's loop (that of 0.1.0+254ae33 hands over here too)."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        carry = AgentCarry(
            state=self.state,
            seq=self._steps.seq,
            stored_messages=self._stored_messages,
            unsaved=self._unsaved,
            tools=self._tools,
            started=self._started,
            followers=self._followers,
        )
        workflow.continue_as_new(self.input.model_copy(update={"carry": carry, "loop": "current"}))

    async def _expand_tools(self) -> None:
        try:
            self._tools = await workflow.execute_activity_method(
                ToolActivities.expand_tools,
                ExpandToolsInput(task_id=self.input.task_id, tools=self._tools),
                **self.input.policies.tool(),
                summary="list the tools of MCP servers",
            )
        except FailureError as exc:
            reraise_cancellation(exc)
            raise TaskFailed.of(exc, "tool_error", "could not list tools: ") from exc

    # --- events and state ----------------------------------------------------------------

    async def _finish(
        self,
        status: TaskStatus,
        *,
        result: TaskResult | None = None,
        error: TaskError | None = None,
        undo: bool = False,
    ) -> None:
        """End the task: its final state, its terminal event and (unless `undo`: its turn is
        taken out of the session's transcript) the transcript's last entries."""
        terminal, data = self._end(status, result, error)
        # One record: the transcript (the last answer and unsent tool results included) and
        # the final state are written before the terminal event, so a client that sees it
        # finds both.
        self._steps.publish(terminal, data)
        await self._record(with_transcript=not undo, undo=undo)

    async def _finish_stopped(self, stopped: TaskStopped) -> None:
        await self._finish(TaskStatus.CANCELLED, error=stopped.error, undo=stopped.rollback)

    def _end(
        self, status: TaskStatus, result: TaskResult | None, error: TaskError | None
    ) -> tuple[EventType, dict[str, Any]]:
        """The task's final state; its terminal event and that event's data."""
        self.state.status = status
        self.state.result = result
        self.state.error = error
        self.state.pending_approval = None
        self.state.pending_input = None
        data: dict[str, Any] = {
            "usage": self.state.usage.report().model_dump(),
            "iterations": self.state.iterations,
        }
        if result is not None:
            data["result"] = result.model_dump()
        if error is not None:
            data["error"] = error.model_dump()
        return terminal_event(status), data

    async def _record(
        self,
        *,
        with_transcript: bool = False,
        count_transcript: bool = False,
        seed: str | None = None,
        undo: bool = False,
    ) -> int:
        """Write the step's events with the task's state (and, at the end, its transcript, or
        with `undo` the transcript as it was before the turn); the session's transcript
        length when `count_transcript` (a fork's `seed` is then written there)."""
        self._markers += 1
        transcript = self._unsaved if with_transcript else None
        return await self._steps.record(
            self.state,
            first_index=self._stored_messages,
            transcript=transcript,
            count_transcript=count_transcript,
            seed=seed,
            undo=undo,
        )


def _described(parts: list[Part]) -> list[dict[str, Any]]:
    """The user's images and files as clients read them (`GET .../inputs/{n}` has each one's
    content)."""
    return [part.model_dump(mode="json", exclude={"blob", "data"}) for part in parts]
