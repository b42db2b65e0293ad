"""Time travel over REST on a real Temporal server: a finished task's steps, forks of it at
an LLM step (with an edited message), at a tool step, with a replaced tool result; a re-run;
and what is refused. The tool server counts the calls each makes."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from temporal_executor.cli import _parser
from temporal_executor.config import Config
from tests.conftest import Stack, enqueue, fake_requests, weather_tool
from tests.fakes.samples import PDF, PNG
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import calls_to, wait_status
from tests.integration.test_media import chart_tool, message, sent_files

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}


def weather_call(query: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "get_weather", "arguments": {"query": query}}]}


async def three_tool_task(stack: Stack, openai: FakeServer, tools: FakeServer) -> str:
    """A finished task of 7 steps: LLM, tool ("one"), LLM, tool ("two"), LLM, tool
    ("three"), LLM (the answer)."""
    await enqueue(openai, [weather_call("one"), weather_call("two"), weather_call("three")])
    accepted = await stack.execute(
        task_id=f"travel-{uuid.uuid4().hex[:8]}",  # one Temporal server for every test
        user_message="Weather in three places?",
        system_message="You are a weather assistant.",
        model_config=MODEL,
        tools=[weather_tool(tools)],
    )
    await stack.events(accepted["task_id"])
    return str(accepted["task_id"])


async def fork(stack: Stack, parent: str, **body: Any) -> dict[str, Any]:
    response = await stack.http.post(f"/api/v1/tasks/{parent}/fork", json=body)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


async def cli(stack: Stack, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """A CLI command, as its parser reads it, run in a thread of this process (its HTTP
    client is synchronous; a subprocess would spend seconds importing the package)."""
    parsed = _parser().parse_args([*args, "--url", stack.url])
    code: int = await asyncio.to_thread(parsed.handler, Config(), parsed)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def steps_of(stack: Stack, task_id: str) -> list[dict[str, Any]]:
    response = await stack.http.get(f"/api/v1/tasks/{task_id}/steps")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["steps"]
    return found


async def test_steps_fork_and_rerun(
    stack: Stack,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parent = await three_tool_task(stack, openai_fake, tool_server)
    steps = await steps_of(stack, parent)
    assert [(s["step"], s["kind"]) for s in steps] == [
        (1, "llm"), (2, "tool"), (3, "llm"), (4, "tool"), (5, "llm"), (6, "tool"), (7, "llm"),
    ]  # fmt: skip
    assert [s["side_effects"] for s in steps] == [False, True] * 3 + [False]
    assert {s["model"] for s in steps if s["kind"] == "llm"} == {"openai/gpt-4o-mini"}
    assert [s["input"]["arguments"]["query"] for s in steps if s["kind"] == "tool"] == [
        "one", "two", "three",
    ]  # fmt: skip
    first = steps[0]["input"]["messages"]
    assert [m["role"] for m in first] == ["system", "user"]
    assert steps[2]["input"]["messages"][0]["tool_call_id"] == steps[1]["call"]
    assert "sunny" in steps[5]["output"]["content"]
    assert steps[6]["output"]["content"].startswith("Tool results: get_weather=")
    assert steps[0]["usage"]["total_tokens"] > 0
    assert not any(s["reused"] for s in steps)
    assert len(await calls_to(tool_server)) == 3

    # At its third LLM call (step 5), with an edited message: the first two tool calls are
    # reused (0 new calls for them), the model gets the edit, and the answer reflects it.
    requests_before = len(await fake_requests(openai_fake))
    forked = await fork(stack, parent, at_step=5, user_message="Only Paris, please")
    child = forked["task_id"]
    assert forked["forked_from"] == {"task_id": parent, "at_step": 5}
    assert [(r["step"], r["call"]) for r in forked["reused"]] == [
        (1, "llm:1"), (2, steps[1]["call"]), (3, "llm:2"), (4, steps[3]["call"]),
    ]  # fmt: skip
    assert forked["session_id"] == child  # a new session by default
    await stack.events(child)
    task = await stack.task(child)
    assert task["status"] == "completed"
    assert "Only Paris, please" in task["result"]["content"]
    calls = await calls_to(tool_server)
    assert [c["arguments"]["query"] for c in calls[3:]] == ["Only Paris, please"]
    sent = (await fake_requests(openai_fake))[requests_before]["messages"]
    assert [m["role"] for m in sent] == [
        "system", "user", "assistant", "tool", "assistant", "tool", "user",
    ]  # fmt: skip
    assert sent[-1]["content"] == "Only Paris, please"
    assert task["forked_from"] == {"task_id": parent, "at_step": 5}
    assert (await stack.task(parent))["forks"] == [child]
    assert task["iterations"] == 4  # its own two LLM calls after the parent's two

    child_steps = await steps_of(stack, child)
    assert [s["step"] for s in child_steps] == list(range(1, 8))
    assert [(s["reused"], s["task_id"]) for s in child_steps[:4]] == [(True, parent)] * 4
    assert [s["task_id"] for s in child_steps[4:]] == [child] * 3
    assert child_steps[4]["input"]["messages"][-1]["content"] == "Only Paris, please"
    started = next(e for e in await stack.events(child) if e["event"] == "task.started")
    assert started["data"]["forked_from"] == {"task_id": parent, "at_step": 5}

    # At a tool step (4): the LLM's call "two" is made again (and the rest goes on anew);
    # step 2's call is not.
    await fork(stack, parent, at_step=4, task_id="travel-at-tool")
    await stack.events("travel-at-tool")
    calls = await calls_to(tool_server)
    assert [c["arguments"]["query"] for c in calls[4:]] == ["two"]
    assert calls[4]["idempotency_key"] != steps[3]["call"]  # a call of its own
    assert [s["kind"] for s in await steps_of(stack, "travel-at-tool")][3:] == ["tool", "llm"]

    # At step 3 with step 2's result replaced: no tool call at all, the model reads the new
    # result; the fork's steps show it as replaced.
    call = steps[1]["call"]
    await fork(stack, parent, at_step=3, task_id="travel-override",
               tool_result_overrides={call: "hail storm"})  # fmt: skip
    await stack.events("travel-override")
    assert len(await calls_to(tool_server)) == 5
    overridden = await stack.task("travel-override")
    assert overridden["result"]["content"] == "Tool results: get_weather=hail storm"
    shown = (await steps_of(stack, "travel-override"))[1]
    assert shown["overridden"] and shown["output"]["content"] == "hail storm"

    # The same fork posted again is the same task; another request with its id is refused.
    again = await fork(stack, parent, at_step=3, task_id="travel-override",
                       tool_result_overrides={call: "hail storm"})  # fmt: skip
    assert again["task_id"] == "travel-override"
    taken = await stack.http.post(
        f"/api/v1/tasks/{parent}/fork", json={"at_step": 2, "task_id": "travel-override"}
    )
    assert taken.status_code == 409, taken.text

    # The same over the CLI: its steps, then a fork followed to its end.
    code, out, _ = await cli(stack, capsys, "steps", parent)
    assert code == 0 and out.count("side-effects") == 3 and "calls get_weather" in out
    code, out, err = await cli(stack, capsys, "fork", parent, "--at-step", "5", "--message",
                               "Only Rome", "--task-id", "travel-cli")  # fmt: skip
    assert code == 0, err
    assert f"from task {parent} at step 5; reuses 1:llm:1, 2:{call}" in err
    assert "Only Rome" in out.splitlines()[-1]
    assert [c["arguments"]["query"] for c in (await calls_to(tool_server))[5:]] == ["Only Rome"]

    # A re-run: the same request as a new task, in a new session.
    response = await stack.http.post(f"/api/v1/tasks/{parent}/rerun")
    assert response.status_code == 202, response.text
    rerun = response.json()
    assert rerun["forked_from"] == {"task_id": parent, "at_step": 1} and rerun["reused"] == []
    await stack.events(rerun["task_id"])
    assert (await stack.task(rerun["task_id"]))["status"] == "completed"
    sent = (await fake_requests(openai_fake))[-2]["messages"]  # its first LLM call
    assert [(m["role"], m["content"]) for m in sent[:2]] == [
        ("system", "You are a weather assistant."), ("user", "Weather in three places?"),
    ]  # fmt: skip
    assert (await stack.task(parent))["forks"] == [
        child, "travel-at-tool", "travel-override", "travel-cli", rerun["task_id"],
    ]  # fmt: skip


async def test_what_a_fork_refuses(stack: Stack, tool_server: FakeServer) -> None:
    await stack.execute(
        task_id="travel-parked",
        user_message="Weather?",
        model_config=MODEL,
        tools=[weather_tool(tool_server)],
        require_approval=True,
    )
    await wait_status(stack, "travel-parked", "awaiting_approval")
    steps = await steps_of(stack, "travel-parked")
    assert [(s["kind"], s["output"] is None) for s in steps] == [("llm", False), ("tool", True)]

    async def refused(path: str, body: dict[str, Any] | None, status: int) -> str:
        response = await stack.http.post(f"/api/v1/tasks/{path}", json=body)
        assert response.status_code == status, response.text
        message: str = response.json()["error"]["message"]
        return message

    # Re-running a task that has not ended; reusing a step that has not finished.
    assert "has not ended" in await refused("travel-parked/rerun", None, 409)
    assert "has not finished" in await refused("travel-parked/fork", {"at_step": 3}, 409)
    # A step the task does not have; a result of a call that is not before the step.
    assert "at_step" in await refused("travel-parked/fork", {"at_step": 9}, 400)
    message = await refused(
        "travel-parked/fork", {"at_step": 1, "tool_result_overrides": {"nope": "x"}}, 400
    )
    assert "tool_result_overrides.nope" in message
    assert "at_step" in await refused("travel-parked/fork", {"at_step": 0}, 422)
    assert "nonexistent" in await refused("nonexistent/fork", {"at_step": 1}, 404)
    assert json.loads(json.dumps(steps))  # (the steps are plain JSON)


async def test_forks_of_forks_and_in_the_same_session(
    stack: Stack, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    parent = await three_tool_task(stack, openai_fake, tool_server)
    call = (await steps_of(stack, parent))[1]["call"]
    await fork(stack, parent, at_step=3, task_id="travel-child",
               tool_result_overrides={call: "fog"})  # fmt: skip
    await stack.events("travel-child")

    # A fork of that fork at its own first step: the parent's step 1 and the child's
    # replaced result are reused, and no tool is called.
    await fork(stack, "travel-child", at_step=3, task_id="travel-grandchild")
    await stack.events("travel-grandchild")
    grandchild = await stack.task("travel-grandchild")
    assert grandchild["result"]["content"] == "Tool results: get_weather=fog"
    steps = await steps_of(stack, "travel-grandchild")
    assert [(s["task_id"], s["reused"]) for s in steps] == [
        (parent, True), (parent, True), ("travel-grandchild", False),
    ]  # fmt: skip
    assert steps[1]["output"]["content"] == "fog" and steps[1]["overridden"]
    assert len(await calls_to(tool_server)) == 3

    # In the parent's own session, at its last step: the session goes on after the
    # parent's turn, with the turn's messages up to the step again, then the new message.
    requests_before = len(await fake_requests(openai_fake))
    same = await fork(stack, parent, at_step=7, task_id="travel-same", session_id=parent,
                      user_message="Summarize [no tools]")  # fmt: skip
    assert same["session_id"] == parent
    await stack.events("travel-same")
    assert (await stack.task("travel-same"))["result"]["content"] == "Echo: Summarize [no tools]"
    sent = (await fake_requests(openai_fake))[requests_before]["messages"]
    roles = ["user", "assistant", "tool", "assistant", "tool", "assistant", "tool"]
    assert [m["role"] for m in sent] == ["system", *roles, "assistant", *roles, "user"]
    session = (await stack.http.get(f"/api/v1/sessions/{parent}")).json()
    assert [t["task_id"] for t in session["tasks"]] == [parent, "travel-same"]
    steps = await steps_of(stack, "travel-same")
    assert [s["reused"] for s in steps] == [True] * 6 + [False]
    assert steps[6]["input"]["messages"][-1]["content"] == "Summarize [no tools]"


async def test_forks_and_reruns_of_a_task_with_files_have_their_own_copies(
    stack: Stack, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    """A re-run gives the model the user's image and PDF again, and has them as its own
    (downloadable from it, even once its parent's session is deleted); a fork after the tool
    step sends the user's files and the tool's image from its seed, under its own keys."""
    parent = f"travel-files-{uuid.uuid4().hex[:8]}"
    chart = chart_tool(tool_server)
    await stack.execute(
        task_id=parent, user_message=message(tool_server), model_config=MODEL, tools=[chart]
    )
    await stack.events(parent)
    assert len(await steps_of(stack, parent)) == 3  # LLM, the chart tool, LLM

    before = len(await fake_requests(openai_fake))
    response = await stack.http.post(f"/api/v1/tasks/{parent}/rerun")
    assert response.status_code == 202, response.text
    rerun = response.json()["task_id"]
    await stack.events(rerun)
    task = await stack.task(rerun)
    assert task["status"] == "completed", task
    (made,) = task["artifacts"]  # its own tool call made its own chart
    assert made["blob"].startswith(f"{rerun}/artifact/")
    first = (await fake_requests(openai_fake))[before]
    assert sent_files("openai", first) == (["image/png", "application/pdf"], [])

    forked = (await fork(stack, parent, at_step=3))["task_id"]
    await stack.events(forked)
    task = await stack.task(forked)
    assert task["status"] == "completed", task
    # The chart came from the reused step 2: the parent's artifact, not one the fork made.
    assert task["artifacts"] == []
    (sent,) = (await fake_requests(openai_fake))[before + 2 :]
    assert sent_files("openai", sent) == (["image/png", "application/pdf"], ["image/png"])
    seed = json.loads(await stack.services.store.blobs.get(f"{forked}/fork/seed") or "[]")
    blobs = [p["blob"] for m in seed for p in m.get("parts") or []]
    assert len(blobs) == 3 and all(b.startswith(f"{forked}/fork/{parent}/") for b in blobs)

    deleted = await stack.http.delete(f"/api/v1/sessions/{parent}")
    assert deleted.status_code == 204, deleted.text
    photo, pdf = [await stack.http.get(f"/api/v1/tasks/{rerun}/inputs/{n}") for n in (0, 1)]
    assert (photo.status_code, photo.content, pdf.content) == (200, PNG, PDF)
    assert all([await stack.services.store.blobs.get(b) for b in blobs])
