"""A task's steps: each LLM call and tool call, numbered from 1 in the order they ran, as the
store keeps them (`GET /api/v1/tasks/{id}/steps`; what a fork's `at_step` counts).

Built from the task's event log (`llm.message` and the `tool.result` of each call: whole
contents, current while it runs) and its turn of the session's transcript (what each LLM
call was given new: the user's message, the tool results, what a person said). Temporal's
history is not read: it may be gone (retention), and the log and transcript are what every
run of a task, continued as new or not, writes to.

The order: each LLM call, then the tool calls it asked for, in the LLM's order (they run in
parallel; their results go back in that order). A fork's first steps are its parent's, as
recorded (`reused`, with the id of the task that made the call), its own go on from
`at_step`. In a task's turn of the transcript the n-th assistant message is the answer of
LLM call n (a fork's turn, seed included, starts where its parent's did).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..llm.messages import Message, ToolCall, UsageReport
from ..spec import ToolSpec
from ..tasks import Event, EventType

__all__ = ["Step", "own_steps", "reused_steps", "side_effects_of"]


class Step(BaseModel):
    """One LLM or tool call of a task. `call` is `llm:<n>` (the task's n-th LLM call) or the
    tool call's id; `output` is None while the call has not finished."""

    step: int
    kind: Literal["llm", "tool"]
    call: str
    iteration: int = Field(description="the LLM call this step is, or whose tool call it is")
    task_id: str = Field(description="the task that made the call (a fork's first steps: "
                         "the parent's, or an earlier ancestor's)")  # fmt: skip
    reused: bool = Field(default=False, description="taken as recorded, not made again")
    model: str | None = Field(default=None, description="an LLM call's provider/model")
    tool: str | None = Field(default=None, description="a tool call's tool")
    side_effects: bool = Field(
        default=False, description="whether the call may change something outside"
    )
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] | None = None
    usage: UsageReport | None = None
    overridden: bool = Field(default=False, description="a result a fork replaced")


def own_steps(
    task_id: str,
    events: list[Event],
    turn: list[Message],
    *,
    first: int = 1,
    calls_first: list[ToolCall] | None = None,
    calls_iteration: int = 0,
    side_effects: Callable[[str], bool],
) -> list[Step]:
    """The steps task `task_id` made itself, numbered from `first`: from its event log and
    its `turn` of the transcript. A fork at a tool step made `calls_first` (calls of its
    parent's LLM call `calls_iteration`) before any LLM call of its own."""
    steps: list[Step] = []
    tools: dict[str, Step] = {}
    primary: str | None = None
    fallen_to: dict[int, str] = {}

    def add_tool(call: ToolCall, iteration: int) -> None:
        step = Step(
            step=0,
            kind="tool",
            call=call.id,
            iteration=iteration,
            task_id=task_id,
            tool=call.name,
            side_effects=side_effects(call.name),
            input={"arguments": call.arguments},
        )
        tools[call.id] = step
        steps.append(step)

    for call in calls_first or []:
        add_tool(call, calls_iteration)
    inputs = llm_inputs(turn)
    for event in events:
        data = event.data
        if event.type == EventType.TASK_STARTED:
            model = data.get("model") or {}
            primary = f"{model.get('provider')}/{model.get('model')}" if model else None
        elif event.type == EventType.LLM_FALLBACK:
            fallen_to[int(data["iteration"])] = str(data["to"])
        elif event.type == EventType.LLM_MESSAGE:
            iteration = int(data["iteration"])
            calls = [ToolCall.model_validate(c) for c in data.get("tool_calls") or []]
            given = inputs.get(iteration)
            steps.append(
                Step(
                    step=0,
                    kind="llm",
                    call=f"llm:{iteration}",
                    iteration=iteration,
                    task_id=task_id,
                    model=fallen_to.get(iteration, primary),
                    input={"messages": [_shown(m) for m in given]} if given is not None else {},
                    output={
                        "content": data.get("content"),
                        "tool_calls": [c.model_dump(mode="json") for c in calls],
                        "finish_reason": data.get("finish_reason"),
                    },
                    usage=UsageReport.of(data.get("usage") or {}),
                )
            )
            for call in calls:
                add_tool(call, iteration)
        elif event.type == EventType.TOOL_RESULT and (step := tools.get(data["tool_call_id"])):
            step.output = {"content": data.get("content"), "is_error": data.get("is_error", False)}
    for number, step in enumerate(steps, start=first):
        step.step = number
    return steps


def reused_steps(parent: list[Step], at_step: int, overrides: dict[str, str]) -> list[Step]:
    """A fork's first steps: its parent's before `at_step`, with the results it replaced."""
    reused = []
    for step in parent[: at_step - 1]:
        update: dict[str, Any] = {"reused": True}
        if step.kind == "tool" and step.call in overrides:
            update |= {"output": {"content": overrides[step.call], "is_error": False}}
            update |= {"overridden": True}
        reused.append(step.model_copy(update=update))
    return reused


def llm_inputs(turn: list[Message]) -> dict[int, list[Message]]:
    """What each LLM call of a turn was given new, by its number: the messages before its
    answer, after the previous answer (the turn's last call's, when its answer is not
    stored yet, is what follows the last answer)."""
    inputs: dict[int, list[Message]] = {}
    given: list[Message] = []
    for message in turn:
        if message.role == "assistant":
            inputs[len(inputs) + 1] = given
            given = []
        else:
            given.append(message)
    if given:
        inputs[len(inputs) + 1] = given
    return inputs


def side_effects_of(
    specs: list[ToolSpec], says: Callable[[ToolSpec], bool]
) -> Callable[[str], bool]:
    """Whether a call of the tool named so may change something outside (`says`, for a
    spec: the tool type's word). A tool no spec names came from expanding a whole MCP
    server: its spec's word, when every such spec is read-only; else yes."""
    by_name = {spec.name: spec for spec in specs}
    servers = [spec for spec in specs if spec.type == "mcp" and "tool" not in spec.config]

    def side_effects(name: str) -> bool:
        spec = by_name.get(name)
        if spec is not None:
            return says(spec)
        return not servers or any(says(server) for server in servers)

    return side_effects


def _shown(message: Message) -> dict[str, Any]:
    """A message as a step's input shows it."""
    return message.model_dump(mode="json", exclude_defaults=True, exclude={"content_ref"})
