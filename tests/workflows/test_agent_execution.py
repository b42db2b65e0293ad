"""Focused tests of the workflow's branches, in Temporal's time-skipping test server: the
scripted provider and tool of `temporal_executor.testing` stand in for vendors and tools, and
everything else (workflow, activities, store, task service) is the real thing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.testing import WorkflowEnvironment

from temporal_executor.errors import ConflictError
from temporal_executor.tasks import TaskState, TaskStatus
from temporal_executor.testing import ScriptedTool
from temporal_executor.workflows import (
    AgentExecutionWorkflow,
    ApprovalDecision,
    ApproveInput,
    workflow_id,
)
from tests.workflows.harness import TOOL, config, running, types


async def test_an_approval_that_never_comes_fails_the_task_at_its_deadline(
    env: WorkflowEnvironment,
) -> None:
    cfg = config([{"tool_calls": [{"name": "lookup"}]}], timeouts={"task": "2h"})
    async with running(env, cfg) as setup:
        task_id = await setup.start(user_message="look", tools=[TOOL], require_approval=True)
        await setup.until(task_id, TaskStatus.AWAITING_APPROVAL)
        await env.sleep(timedelta(hours=1))
        assert (await setup.tasks.get(task_id)).status == TaskStatus.AWAITING_APPROVAL
        await env.sleep(timedelta(hours=1, minutes=1))  # the test server skips the time
        state = await setup.until(task_id, TaskStatus.FAILED)
        events = await setup.events(task_id)

    assert state.status == TaskStatus.FAILED and state.error is not None
    assert state.error.code == "approval_timeout"
    assert types(events)[-2:] == ["approval.required", "task.failed"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_a_decide_signal_racing_the_approve_update_decides_once(
    env: WorkflowEnvironment,
) -> None:
    cfg = config([{"tool_calls": [{"name": "lookup"}]}, {"text": "finished"}])
    async with running(env, cfg) as setup:
        task_id = await setup.start(user_message="look", tools=[TOOL], require_approval=True)
        await setup.until(task_id, TaskStatus.AWAITING_APPROVAL)
        handle = env.client.get_workflow_handle(workflow_id(task_id))
        by_signal = ApproveInput(decision=ApprovalDecision(approved=True))
        by_update = ApproveInput(decision=ApprovalDecision(approved=False, reason="no"))
        _, updated = await asyncio.gather(
            handle.signal(AgentExecutionWorkflow.decide, by_signal),
            setup.tasks.approve(task_id, by_update),
            return_exceptions=True,
        )
        await handle.result()
        events = await setup.events(task_id)

    decided = [e.data for e in events if e.type == "approval.decided"]
    assert len(decided) == 1
    if isinstance(updated, ConflictError):  # the signal came first; the update was refused
        assert decided[0]["approved"] is True
    else:
        assert isinstance(updated, TaskState)
        assert decided[0]["approved"] is False and decided[0]["reason"] == "no"
    assert types(events)[-1] == "task.completed"


async def test_cancelling_during_a_tool_call_ends_the_task_cancelled(
    env: WorkflowEnvironment,
) -> None:
    slow = {**TOOL, "config": {"result": "late", "delay": 30}}
    cfg = config([{"tool_calls": [{"name": "lookup"}]}, {"text": "finished"}])
    async with running(env, cfg) as setup:
        task_id = await setup.start(user_message="look", tools=[slow])
        for _ in range(500):  # until the tool runs
            calls = [e for e in await setup.events(task_id) if e.type == "tool.call"]
            if calls and calls[0].data["id"] in ScriptedTool.calls:
                break
            await asyncio.sleep(0.02)
        await setup.tasks.cancel(task_id)
        await setup.until(task_id, TaskStatus.CANCELLED)
        events = await setup.events(task_id)

    assert types(events) == ["task.started", "llm.message", "tool.call", "task.cancelled"]
    assert events[-1].data["iterations"] == 1


async def test_continue_as_new_carries_the_whole_loop(env: WorkflowEnvironment) -> None:
    rounds = 60  # two markers a round: past a history limit of 100
    steps = [{"tool_calls": [{"name": "lookup"}], "times": rounds}, {"text": "all done"}]
    cfg = config(steps, history_limit=100, max_iterations=rounds + 1)
    async with running(env, cfg) as setup:
        task_id = await setup.start(user_message="go", tools=[TOOL], session_id="long")
        handle = env.client.get_workflow_handle_for(
            AgentExecutionWorkflow.run, workflow_id(task_id)
        )
        first_run = (await handle.describe()).run_id
        final = await handle.result()
        events = await setup.events(task_id)
        transcript = await setup.store.transcripts.get("long")
        first = env.client.get_workflow_handle(workflow_id(task_id), run_id=first_run)
        history = await first.fetch_history()

    continued = HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert history.events[-1].event_type == continued
    assert final.status == TaskStatus.COMPLETED and final.result is not None
    assert final.result.content == "all done"
    assert final.iterations == rounds + 1
    assert final.usage.total_tokens == 15 * (rounds + 1)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert types(events).count("task.started") == 1
    assert types(events).count("llm.message") == rounds + 1
    assert types(events).count("tool.result") == rounds
    # user message, then per round an answer with a call and its result, then the answer
    assert [m.role for m in transcript] == ["user", *["assistant", "tool"] * rounds, "assistant"]
