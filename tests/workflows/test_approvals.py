"""Approvals as a product, in the time-skipping test server: edited arguments, approval
timeouts as durable timers, "approve for the session", the config's approval policy, the
inbox of pending calls and the audit trail of every decision."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from temporal_executor.errors import InvalidArgumentsError, RequestError
from temporal_executor.store import TaskFilter
from temporal_executor.tasks import Event, TaskStatus
from temporal_executor.testing import ScriptedTool
from temporal_executor.workflows import ApprovalDecision, ApproveInput
from tests.workflows.harness import TOOL, Setup, config, running, types

SCHEMA = {
    "type": "object",
    "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}},
    "required": ["q"],
}
LOOKUP = {**TOOL, "parameters": SCHEMA}
DELETE = {"name": "delete", "type": "scripted", "config": {"result": "deleted"}}


def call(name: str = "lookup", **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def decided(events: list[Event]) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type == "approval.decided"]


def results(events: list[Event]) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type == "tool.result"]


async def approve(setup: Setup, task_id: str, by: str | None = "alice", **decision: Any) -> None:
    body = ApprovalDecision.model_validate(decision)
    await setup.tasks.approve(task_id, ApproveInput(decision=body, by=by))


async def test_an_edited_call_runs_with_the_edit_and_the_llm_sees_what_ran(
    env: WorkflowEnvironment,
) -> None:
    cfg = config([{"tool_calls": [call(q="rm -rf /")]}, {"text": "done"}])
    async with running(env, cfg) as setup:
        task_id = await setup.start(user_message="go", tools=[LOOKUP], require_approval=True)
        parked = await setup.until(task_id, TaskStatus.AWAITING_APPROVAL)
        assert parked.pending_approval is not None
        assert parked.pending_approval.parameters == {"lookup": SCHEMA}
        assert parked.pending_approval.requested_at is not None
        (pending,) = parked.pending_approval.tool_calls
        await approve(setup, task_id, approved=True, arguments={"q": "ls", "limit": 3})
        await setup.until(task_id, TaskStatus.COMPLETED)
        events = await setup.events(task_id)
        transcript = await setup.store.transcripts.get(task_id)

    assert ScriptedTool.arguments[pending.id] == {"q": "ls", "limit": 3}
    (audit,) = decided(events)
    assert audit["by"] == "alice" and audit["at"] >= parked.pending_approval.requested_at
    assert audit["calls"] == [
        {
            "id": pending.id,
            "name": "lookup",
            "approved": True,
            "reason": None,
            "arguments": {"q": "rm -rf /"},
            "edited_arguments": {"q": "ls", "limit": 3},
        }
    ]
    (asked,) = [m for m in transcript if m.role == "assistant" and m.tool_calls]
    assert asked.tool_calls[0].arguments == {"q": "ls", "limit": 3}  # what ran, for the LLM
    assert [e.data["arguments"] for e in events if e.type == "tool.call"] == [{"q": "rm -rf /"}]


async def test_edits_that_break_the_tools_schema_are_refused_naming_the_field(
    env: WorkflowEnvironment,
) -> None:
    cfg = config([{"tool_calls": [call(q="a"), call(q="b")]}, {"text": "done"}])
    async with running(env, cfg) as setup:
        task_id = await setup.start(user_message="go", tools=[LOOKUP], require_approval=True)
        parked = await setup.until(task_id, TaskStatus.AWAITING_APPROVAL)
        assert parked.pending_approval is not None
        first, second = parked.pending_approval.tool_calls
        with pytest.raises(InvalidArgumentsError, match=r"arguments\.limit") as wrong:
            await approve(
                setup,
                task_id,
                tool_calls={first.id: {"approved": True, "arguments": {"q": "x", "limit": "3"}}},
                approved=True,
            )
        assert wrong.value.http_status == 422
        with pytest.raises(RequestError, match="2 are pending"):
            await approve(setup, task_id, approved=True, arguments={"q": "x"})
        assert (await setup.tasks.get(task_id)).status == TaskStatus.AWAITING_APPROVAL
        await approve(
            setup,
            task_id,
            tool_calls={
                first.id: {"approved": True, "arguments": {"q": "edited"}},
                second.id: {"approved": False, "reason": "not that one"},
            },
        )
        await setup.until(task_id, TaskStatus.COMPLETED)
        events = await setup.events(task_id)

    assert ScriptedTool.arguments[first.id] == {"q": "edited"}
    outcome = {r["tool_call_id"]: r for r in results(events)}
    assert outcome[second.id]["is_error"] and "not that one" in outcome[second.id]["content"]
    assert len(decided(events)) == 1  # the refused attempts left no trace


@pytest.mark.parametrize(
    ("action", "status", "ran"),
    [("reject", TaskStatus.COMPLETED, False), ("approve", TaskStatus.COMPLETED, True)],
)
async def test_an_approval_timeout_takes_the_configured_decision(
    env: WorkflowEnvironment, action: str, status: TaskStatus, ran: bool
) -> None:
    cfg = config(
        [{"tool_calls": [call(q="a")]}, {"text": "done"}],
        timeouts={"task": "30d"},
        approval_timeout="2d",
        approval_timeout_action=action,
    )
    async with running(env, cfg) as setup:
        task_id = await setup.start(user_message="go", tools=[LOOKUP], require_approval=True)
        parked = await setup.until(task_id, TaskStatus.AWAITING_APPROVAL)
        assert parked.pending_approval is not None
        pending = parked.pending_approval
        assert pending.expires_at == pytest.approx(pending.requested_at + 2 * 86400)
        await env.sleep(timedelta(days=1))
        assert (await setup.tasks.get(task_id)).status == TaskStatus.AWAITING_APPROVAL
        await env.sleep(timedelta(days=1, minutes=1))
        await setup.until(task_id, status)
        events = await setup.events(task_id)

    (audit,) = decided(events)
    assert audit["by"] == "timeout" and audit["approved"] is ran
    assert "approval timeout (172800 s)" in audit["reason"]
    (result,) = results(events)
    assert result["is_error"] is not ran


async def test_an_approval_timeout_can_fail_the_task_and_a_request_sets_its_own(
    env: WorkflowEnvironment,
) -> None:
    cfg = config(
        [{"tool_calls": [call(q="a")]}],
        approval_timeout="1d",
        approval_timeout_action="fail",
    )
    async with running(env, cfg) as setup:
        task_id = await setup.start(
            user_message="go", tools=[LOOKUP], require_approval=True, approval_timeout=600
        )
        await setup.until(task_id, TaskStatus.AWAITING_APPROVAL)
        await env.sleep(timedelta(minutes=11))
        state = await setup.until(task_id, TaskStatus.FAILED)
        events = await setup.events(task_id)

    assert state.error is not None and state.error.code == "approval_timeout"
    assert "(600 s)" in state.error.message
    assert types(events)[-2:] == ["approval.required", "task.failed"]


async def test_approved_for_the_session_stops_asking_in_this_task_and_the_next(
    env: WorkflowEnvironment,
) -> None:
    cfg = config(
        [
            {"tool_calls": [call(q="one")]},
            {"tool_calls": [call(q="two"), call("delete")]},
            {"text": "done"},
        ]
    )
    tools = [LOOKUP, DELETE]
    async with running(env, cfg) as setup:
        first = await setup.start(
            user_message="go", session_id="s-remember", tools=tools, require_approval=True
        )
        await setup.until(first, TaskStatus.AWAITING_APPROVAL)
        await approve(setup, first, approved=True, remember="session")
        parked = await setup.until(first, TaskStatus.AWAITING_APPROVAL)  # delete still asks
        assert parked.pending_approval is not None
        assert [c.name for c in parked.pending_approval.tool_calls] == ["delete"]
        await approve(setup, first, approved=False, reason="never")
        done = await setup.until(first, TaskStatus.COMPLETED)
        first_events = await setup.events(first)
        assert done.approved_tools == ["lookup"]

        second = await setup.start(
            user_message="again", session_id="s-remember", tools=tools, require_approval=True
        )
        await setup.until(second, TaskStatus.AWAITING_APPROVAL)  # only delete asks again
        await approve(setup, second, approved=True)
        await setup.until(second, TaskStatus.COMPLETED)
        second_events = await setup.events(second)

    person, automatic, refused = decided(first_events)
    assert person["remember"] == "session" and person["by"] == "alice"
    assert automatic["by"] == "session" and automatic["automatic"] is True
    assert [c["name"] for c in automatic["calls"]] == ["lookup"]
    assert refused["calls"][0]["name"] == "delete" and refused["approved"] is False
    by = [d["by"] for d in decided(second_events)]
    assert by == ["session", "session", "alice"]  # lookup twice as remembered; delete asked


async def test_the_approval_policy_allows_asks_and_denies_by_tool_pattern(
    env: WorkflowEnvironment,
) -> None:
    cfg = config(
        [{"tool_calls": [call(q="a"), call("delete"), call("shell")]}, {"text": "done"}],
        approval_policy=[
            {"tool": "del*", "action": "deny", "reason": "deleting is off on this server"},
            {"tool": "look*", "action": "allow"},
            {"tool": "*", "action": "ask"},
        ],
    )
    shell = {"name": "shell", "type": "scripted", "config": {"result": "ran"}}
    async with running(env, cfg) as setup:
        task_id = await setup.start(
            user_message="go", tools=[LOOKUP, DELETE, shell], require_approval=["lookup"]
        )
        parked = await setup.until(task_id, TaskStatus.AWAITING_APPROVAL)
        assert parked.pending_approval is not None
        assert [c.name for c in parked.pending_approval.tool_calls] == ["shell"]
        await approve(setup, task_id, approved=True)
        await setup.until(task_id, TaskStatus.COMPLETED)
        events = await setup.events(task_id)

    policy, person = decided(events)
    assert policy["by"] == "policy" and policy["automatic"] is True
    verdicts = {c["name"]: c for c in policy["calls"]}
    assert verdicts["lookup"]["approved"] is True
    assert verdicts["delete"] == {
        **verdicts["delete"],
        "approved": False,
        "reason": "deleting is off on this server",
    }
    assert person["by"] == "alice"
    outcome = {r["name"]: r for r in results(events)}
    assert not outcome["lookup"]["is_error"] and not outcome["shell"]["is_error"]
    assert outcome["delete"]["is_error"] and "deleting is off" in outcome["delete"]["content"]


async def test_the_inbox_lists_pending_calls_across_tasks_newest_first(
    env: WorkflowEnvironment,
) -> None:
    cfg = config([{"tool_calls": [call(q="a"), call("delete")]}, {"text": "done"}])
    async with running(env, cfg) as setup:
        older = await setup.start(
            user_message="1", session_id="inbox-a", tools=[LOOKUP, DELETE], require_approval=True
        )
        await setup.until(older, TaskStatus.AWAITING_APPROVAL)
        await env.sleep(timedelta(minutes=1))
        newer = await setup.start(
            user_message="2", session_id="inbox-b", tools=[LOOKUP, DELETE], require_approval=True
        )
        await setup.until(newer, TaskStatus.AWAITING_APPROVAL)
        everything = await setup.tasks.pending_calls()
        deletes = await setup.tasks.pending_calls(tool="delete")
        session_a = await setup.tasks.pending_calls(TaskFilter(session_id="inbox-a"))
        page = await setup.tasks.pending_calls(limit=1, offset=1)
        await approve(setup, older, approved=True)
        await setup.until(older, TaskStatus.COMPLETED)
        after = await setup.tasks.pending_calls()
        await approve(setup, newer, approved=False)

    assert [(c.task_id, c.tool_name) for c in everything] == [
        (newer, "lookup"),
        (newer, "delete"),
        (older, "lookup"),
        (older, "delete"),
    ]
    assert everything[0].parameters == SCHEMA and everything[0].arguments == {"q": "a"}
    assert everything[0].session_id == "inbox-b"
    assert [c.task_id for c in deletes] == [newer, older]
    assert {c.task_id for c in session_a} == {older}
    assert [(c.task_id, c.tool_name) for c in page] == [(newer, "delete")]
    assert {c.task_id for c in after} == {newer}
