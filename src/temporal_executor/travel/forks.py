"""Planning a fork: from a task's recorded steps and transcript, the new task's seed (the
conversation up to the step it runs anew), which calls it reuses and where it starts.

A fork at step `at_step` takes steps 1 … `at_step` - 1 as recorded: their messages are in
the seed, their calls are not made again. When `at_step` is an LLM call, the seed ends with
what that call was given; at a tool call, with the LLM's message that asked for it and the
results of the same turn's calls before it (the fork runs that call and the turn's later
ones first). The edits: `user_message` is a user turn just before `at_step` (at step 1 it
replaces the task's message; at a tool step it follows that turn's results, as a person's
words with an approval do); `tool_result_overrides` replace recorded results in the seed; a
model applies to the fork's own calls.

The seed holds the messages the fork's session lacks: in a new session (the default), the
parent's session's earlier turns too; in the parent's own session, only the parent's turn
up to the fork's step (the session's transcript then holds the parent's turn, then the
fork's). Pure functions; `service.py` reads and writes the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from ..errors import ConflictError, RequestError
from ..llm.messages import Message, ToolCall
from ..spec import ModelSettings
from ..versioned import Payload
from .steps import Step

__all__ = ["ForkEdits", "ForkOrigin", "ForkPlan", "ForkRecord", "ReusedCall", "plan_fork"]


class ForkEdits(BaseModel):
    """What a fork changes (`POST /api/v1/tasks/{id}/fork` without its ids)."""

    at_step: int = Field(ge=1)
    user_message: str | None = None
    model: ModelSettings | None = None
    tool_result_overrides: dict[str, str] = Field(default_factory=dict)


class ReusedCall(BaseModel):
    """A recorded call a fork takes as it is: its step, and the task that made it."""

    step: int
    kind: Literal["llm", "tool"]
    call: str
    task_id: str


class ForkOrigin(BaseModel):
    """Which task a fork was forked from, at which step."""

    task_id: str
    at_step: int


class ForkRecord(Payload):
    """What the store keeps of a fork (`{fork}/fork`): where it came from and what it
    reuses. `turn_offset` is where its parent's turn starts in the fork's seed (so the
    fork's turn, seed included, reads as its parent's did); `tool_calls`, calls of its
    parent's LLM call `calls_iteration`, are the ones a fork at a tool step ran again first.
    `fingerprint` tells the request it was made for from another one with the same id."""

    parent_task_id: str
    at_step: int
    turn_offset: int = 0
    tool_calls: list[ToolCall] = Field(default_factory=list)
    calls_iteration: int = 0
    overrides: dict[str, str] = Field(default_factory=dict)
    reused: list[ReusedCall] = Field(default_factory=list)
    fingerprint: str = ""

    @property
    def origin(self) -> ForkOrigin:
        return ForkOrigin(task_id=self.parent_task_id, at_step=self.at_step)


@dataclass(frozen=True)
class ForkPlan:
    """The fork's seed, the LLM calls it holds, whether the fork adds a user turn, and the
    record to keep."""

    seed: list[Message]
    iterations: int
    user_turn: bool
    record: ForkRecord


def plan_fork(
    parent_id: str,
    fork_id: str,
    steps: list[Step],
    transcript: list[Message],
    turn_start: int,
    edits: ForkEdits,
    *,
    same_session: bool,
    system_message: str | None,
) -> ForkPlan:
    """The plan of fork `fork_id` of task `parent_id` (its `steps`, its session's
    `transcript`, in which its turn starts at `turn_start`). `RequestError` for edits that
    do not fit the steps; `ConflictError` when a step before `at_step` has not finished (or
    the transcript does not hold it yet: the task is still running)."""
    at = edits.at_step
    _check_at_step(steps, at)
    prefix = steps[: at - 1]
    for step in prefix:
        if step.output is None:
            raise ConflictError(
                f"step {step.step} ({step.call}) has not finished: a fork can reuse only "
                "finished steps",
                details={"at_step": at},
            )
    tool_calls = {s.call for s in prefix if s.kind == "tool"}
    for call in edits.tool_result_overrides:
        if call not in tool_calls:
            raise RequestError(
                f"tool_result_overrides.{call}: no tool call with this id before step {at}",
                details={"tool_result_overrides": sorted(edits.tool_result_overrides)},
            )
    turn = transcript[turn_start:]
    target = steps[at - 1] if at <= len(steps) else None
    calls: list[ToolCall] = []
    calls_iteration = 0
    if target is not None and target.kind == "tool":
        answer = _answer(turn, target.iteration, at)
        asked = answer.tool_calls
        index = next(i for i, c in enumerate(asked) if c.id == target.call)
        # The calls made again get ids of their own: a tool that honours the id as an
        # idempotency key (HTTP, MCP) would otherwise answer with the parent's result.
        calls = [c.model_copy(update={"id": _again(c.id, fork_id)}) for c in asked[index:]]
        update: dict[str, object] = {"tool_calls": [*asked[:index], *calls]}
        if answer.reasoning is not None:  # the vendor's turn names the old ids
            update["reasoning"] = answer.reasoning.model_copy(update={"edited": True})
        where = _index_of_answer(turn, target.iteration)
        seed_turn = [*turn[:where], answer.model_copy(update=update)]
        seed_turn += _results(turn, asked[:index], at)
        calls_iteration = target.iteration
        iterations = target.iteration
        user_turn = edits.user_message is not None
    else:
        last = steps[-1].iteration if steps else 0
        iteration = target.iteration if target is not None else last + 1
        iterations = iteration - 1
        if iteration == 1:
            # The turn up to its user message, which the fork gives (edited or not).
            users = [i for i, m in enumerate(turn) if m.role == "user"]
            seed_turn = turn[: users[0]] if users else []
            if not turn and system_message and turn_start == 0:
                seed_turn = [Message(role="system", content=system_message)]
            user_turn = True
        else:
            previous = _answer(turn, iteration - 1, at)
            _results(turn, previous.tool_calls, at)  # the transcript holds them all
            answers = _answers(turn)
            end = answers[iteration - 1] if len(answers) >= iteration else len(turn)
            seed_turn = turn[:end]
            user_turn = edits.user_message is not None
    seed_turn = [_overridden(m, edits.tool_result_overrides) for m in seed_turn]
    base = turn_start if same_session else 0
    if same_session and seed_turn and seed_turn[0].role == "system":
        seed_turn = seed_turn[1:]  # the session has it, at its start
    reused = [ReusedCall(step=s.step, kind=s.kind, call=s.call, task_id=s.task_id) for s in prefix]
    record = ForkRecord(
        parent_task_id=parent_id,
        at_step=at,
        turn_offset=turn_start - base,
        tool_calls=calls,
        calls_iteration=calls_iteration,
        overrides=edits.tool_result_overrides,
        reused=reused,
        fingerprint=fingerprint(parent_id, edits),
    )
    seed = [*transcript[base:turn_start], *seed_turn]
    return ForkPlan(seed=seed, iterations=iterations, user_turn=user_turn, record=record)


def fingerprint(parent_id: str, edits: ForkEdits) -> str:
    """What tells one fork request from another (a named fork posted again is the same)."""
    text = json.dumps([parent_id, edits.model_dump(mode="json")], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _again(call_id: str, fork_id: str) -> str:
    """The id of a call that fork `fork_id` makes again (letters, digits, `_` and `-`, as
    every provider accepts)."""
    return f"{call_id}_{hashlib.sha256(fork_id.encode()).hexdigest()[:8]}"


def _check_at_step(steps: list[Step], at: int) -> None:
    """`at` names a step, or the LLM call that comes after the last one (a task that failed
    there, say), not a step after a final answer."""
    last = steps[-1] if steps else None
    follows = last is None or last.kind == "tool"
    if at <= len(steps) or (at == len(steps) + 1 and follows):
        return
    limit = len(steps) + 1 if follows else len(steps)
    raise RequestError(
        f"at_step: the task has {len(steps)} steps; a fork may start at step 1 to {limit}",
        details={"at_step": at},
    )


def _answers(turn: list[Message]) -> list[int]:
    """Where each LLM answer of the turn is, in order."""
    return [i for i, m in enumerate(turn) if m.role == "assistant"]


def _index_of_answer(turn: list[Message], iteration: int) -> int:
    return _answers(turn)[iteration - 1]


def _answer(turn: list[Message], iteration: int, at: int) -> Message:
    """The answer of LLM call `iteration`, which the transcript must hold."""
    answers = _answers(turn)
    if len(answers) < iteration:
        raise _not_stored(at)
    return turn[answers[iteration - 1]]


def _results(turn: list[Message], calls: list[ToolCall], at: int) -> list[Message]:
    """The results of `calls`, in their order, which the transcript must hold."""
    found = {m.tool_call_id: m for m in turn if m.role == "tool"}
    missing = [c.id for c in calls if c.id not in found]
    if missing:
        raise _not_stored(at)
    return [found[c.id] for c in calls]


def _not_stored(at: int) -> ConflictError:
    return ConflictError(
        f"the transcript does not hold the steps before step {at} yet (the task is still "
        "running): try again when it has moved on",
        details={"at_step": at},
    )


def _overridden(message: Message, overrides: dict[str, str]) -> Message:
    if message.role != "tool" or message.tool_call_id not in overrides:
        return message
    content = overrides[message.tool_call_id]
    update = {"content": content, "content_ref": None, "is_error": False}
    return message.model_copy(update=update)
