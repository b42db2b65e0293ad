"""Budgets and model fallback, in the time-skipping test server: a task's token budget and
wall-clock limit end it `failed` with its transcript kept; an LLM call whose model is down
is made again with the next of `model_config.fallbacks`."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from temporal_executor.tasks import TaskStatus
from tests.workflows.harness import MODEL, TOOL, config, running, scripted, types

RETRY = {"llm": {"max_attempts": 2, "initial_interval": "1s", "maximum_interval": "1s"}}
BACKUP = {"provider": "backup", "model": "backup-1", "stream": False}


def with_fallbacks(primary: str, *fallbacks: dict[str, Any]) -> dict[str, Any]:
    return {"provider": primary, "model": f"{primary}-1", "stream": True, "fallbacks": fallbacks}


async def test_a_task_that_passes_its_token_budget_fails_with_its_transcript_kept(
    env: WorkflowEnvironment,
) -> None:
    steps = [{"tool_calls": [{"name": "lookup"}]}, {"tool_calls": [{"name": "lookup"}]}]
    async with running(env, config(steps, max_total_tokens=100)) as setup:
        task_id = await setup.start(user_message="go", tools=[TOOL], max_total_tokens=20)
        state = await setup.until(task_id, TaskStatus.FAILED)
        events = await setup.events(task_id)
        transcript = await setup.store.transcripts.get(task_id)

    assert state.error is not None and state.error.code == "budget_exceeded"
    assert "30 tokens" in state.error.message and "(20)" in state.error.message
    assert state.iterations == 2 and state.usage.total_tokens == 30  # each call is 15
    assert types(events)[-1] == "task.failed"
    assert [m.role for m in transcript] == ["user", "assistant", "tool", "assistant"]


async def test_a_request_may_not_raise_the_servers_budget(env: WorkflowEnvironment) -> None:
    async with running(env, config([{"text": "hi"}], max_total_tokens=100)) as setup:
        try:
            await setup.start(user_message="go", max_total_tokens=1000)
        except Exception as exc:
            assert type(exc).__name__ == "RequestError"
            assert "max_total_tokens may be at most 100" in str(exc)
        else:
            raise AssertionError("a budget above the server's was accepted")


async def test_the_time_limit_fails_the_task_and_cancels_the_tool_in_flight(
    env: WorkflowEnvironment,
) -> None:
    slow = {**TOOL, "config": {"result": "late", "delay": 60}}
    steps = [{"tool_calls": [{"name": "lookup"}]}, {"text": "never"}]
    async with running(env, config(steps)) as setup:
        started = time.monotonic()
        task_id = await setup.start(user_message="go", tools=[slow], timeout=5)
        await env.sleep(timedelta(seconds=6))
        state = await setup.until(task_id, TaskStatus.FAILED)
        took = time.monotonic() - started
        events = await setup.events(task_id)

    assert state.error is not None and state.error.code == "timeout"
    assert "time limit (5 s)" in state.error.message
    assert took < 30  # the tool's 60 s sleep was cancelled, not waited for
    assert "tool.result" not in types(events) and types(events)[-1] == "task.failed"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_a_model_that_stays_down_falls_back_to_the_next_with_the_same_transcript(
    env: WorkflowEnvironment,
) -> None:
    down = scripted("down", [{"error": "503 overloaded", "retryable": True}])
    backup = scripted("backup", [{"text": "from the backup"}])
    cfg = config([{"text": "unused"}], providers=[down, backup], retry=RETRY)
    async with running(env, cfg) as setup:
        task_id = await setup.start(user_message="go", model_config=with_fallbacks("down", BACKUP))
        state = await setup.until(task_id, TaskStatus.COMPLETED)
        events = await setup.events(task_id)

    assert state.result is not None and state.result.content == "from the backup"
    (fallback,) = [e.data for e in events if e.type == "llm.fallback"]
    assert fallback["from"] == "down/down-1" and fallback["to"] == "backup/backup-1"
    assert "503 overloaded" in fallback["error"]
    restarts = [e.data for e in events if e.type == "llm.restart"]
    assert restarts[-1] == {"call": "llm:1:1", "attempt": 1, "model": "backup/backup-1"}
    assert types(events).index("llm.fallback") < types(events).index("llm.message")
    assert set(state.usage_by_model) == {"backup/backup-1"}
    assert state.usage == state.usage_by_model["backup/backup-1"]


async def test_caller_errors_do_not_fall_back_and_the_last_model_fails_the_task(
    env: WorkflowEnvironment,
) -> None:
    refused = scripted("refused", [{"error": "401 invalid key", "retryable": False}])
    down = scripted("down", [{"error": "503 overloaded", "retryable": True}])
    cfg = config([{"text": "unused"}], providers=[refused, down], retry=RETRY)
    async with running(env, cfg) as setup:
        first = await setup.start(
            user_message="go", model_config=with_fallbacks("refused", {**MODEL})
        )
        no_fallback = await setup.until(first, TaskStatus.FAILED)
        first_events = await setup.events(first)
        second = await setup.start(
            user_message="go",
            model_config=with_fallbacks("down", {"provider": "down", "model": "other"}),
        )
        exhausted = await setup.until(second, TaskStatus.FAILED)
        second_events = await setup.events(second)

    assert no_fallback.error is not None and "401 invalid key" in no_fallback.error.message
    assert "llm.fallback" not in types(first_events)
    assert exhausted.error is not None and exhausted.error.code == "llm_error"
    assert [e.data["to"] for e in second_events if e.type == "llm.fallback"] == ["down/other"]
