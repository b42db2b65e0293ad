"""`/metrics` and `temporal_ui_url` of a service running API and worker in one process (as
`dev` does): one registry for both, open to scrapers when the API asks for a bearer token,
the parked tasks counted (approval and `ask_user` alike), and the task's workflow linked in
the Temporal UI when its address is known."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Stack, config_data, enqueue, read_sse, running_stack, weather_tool
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import MODEL, wait_status

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
ASK = {"questions": [{"question": "Which city?", "choices": ["Zurich", "Basel"]}]}


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(stack: Stack) -> Samples:
    response = await stack.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_one_process_serves_api_and_worker_series(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["server"]["api_keys_env"] = "TE_METRICS_API_KEYS"
    os.environ["TE_METRICS_API_KEYS"] = "k1"
    auth = {"Authorization": "Bearer k1"}
    try:
        async with running_stack(data) as stack:
            before = await scrape(stack)  # no token: scrapers are let in
            await enqueue(openai_fake, [{"cache_read_tokens": 2}])  # the rules' reply, cached
            body = {
                "task_id": "metrics-1",
                "user_message": "weather?",
                "model_config": MODEL,
                "tools": [weather_tool(tool_server)],
            }
            done = await stack.http.post("/api/v1/execute?wait=true", json=body, headers=auth)
            assert done.json()["status"] == "completed", done.text
            after = await scrape(stack)
            text = (await stack.http.get("/metrics")).text
    finally:
        del os.environ["TE_METRICS_API_KEYS"]

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    llm = {"provider": "openai", "model": "gpt-4o-mini"}
    assert grew("executor_llm_calls_total", **llm, outcome="ok") == 2
    assert grew("executor_llm_call_duration_seconds_count", **llm) == 2
    # Streamed: the answer's text came first at some point; the tool call brought none.
    assert grew("executor_llm_time_to_first_token_seconds_count", **llm) == 1
    assert grew("executor_llm_tokens_total", **llm, type="input") > 0
    assert grew("executor_llm_tokens_total", **llm, type="output") > 0
    assert grew("executor_llm_cached_tokens_total", **llm, type="read") == 2
    assert grew("executor_llm_cached_tokens_total", **llm, type="write") == 0
    tool = {"tool": "get_weather", "type": "http"}
    assert grew("executor_tool_calls_total", **tool, outcome="ok") == 1
    assert grew("executor_tool_call_duration_seconds_count", **tool) == 1
    assert grew("executor_tasks_started_total") == 1
    assert grew("executor_tasks_ended_total", status="completed") == 1
    assert grew("executor_task_duration_seconds_count", status="completed") == 1
    assert grew("executor_event_append_duration_seconds_count") >= 5
    assert value(after, "executor_stream_subscribers", transport="sse") == 0
    # The Temporal SDK's worker series, from the same registry.
    slots = [
        dict(labels) for name, labels in after if name == "temporal_worker_task_slots_available"
    ]
    assert {s["worker_type"] for s in slots} >= {"WorkflowWorker", "LocalActivityWorker"}
    assert "metrics-1" not in text  # no task ids as labels


async def test_parked_tasks_and_live_streams_are_gauged(
    stack: Stack, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    await stack.execute(
        task_id="parked-approval",
        user_message="weather?",
        model_config=MODEL,
        tools=[weather_tool(tool_server)],
        require_approval=True,
    )
    await wait_status(stack, "parked-approval", "awaiting_approval")
    await enqueue(openai_fake, [{"tool_calls": [_ask_call()]}])
    await stack.execute(
        task_id="parked-input",
        user_message="which city?",
        model_config=MODEL,
        tools=[{"name": "ask_user", "type": "builtin"}],
    )
    await wait_status(stack, "parked-input", "awaiting_input")
    found = await scrape(stack)
    assert value(found, "executor_tasks_open", status="awaiting_approval") == 1
    assert value(found, "executor_tasks_open", status="awaiting_input") == 1
    assert value(found, "executor_tasks_open", status="running") == 0
    assert value(found, "executor_tasks_parked") == 2

    # A client following a parked task live is a subscriber while it reads.
    live: Samples = {}
    async with stack.http.stream("GET", "/api/v1/tasks/parked-input/events") as response:
        async for line in response.aiter_lines():
            if line.startswith("event: input.required"):
                live = await scrape(stack)
                break
    assert value(live, "executor_stream_subscribers", transport="sse") == 1


def _ask_call() -> dict[str, Any]:
    return {"name": "ask_user", "arguments": json.dumps(ASK), "id": "ask-1"}


async def test_task_bodies_link_the_temporal_ui_when_it_is_known(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["temporal"]["ui_url"] = "https://temporal.example.com/ui/"
    body = {"task_id": "ui-1.x", "user_message": "hi [no tools]", "model_config": MODEL}
    async with running_stack(data) as stack:
        accepted = (await stack.http.post("/api/v1/execute", json=body)).json()
        await read_sse(stack.http, "ui-1.x")
        task = await stack.task("ui-1.x")
    link = "https://temporal.example.com/ui/namespaces/default/workflows/agent-execution-ui-1.x"
    assert accepted["temporal_ui_url"] == task["temporal_ui_url"] == link


async def test_no_ui_link_without_a_ui_address(stack: Stack) -> None:
    body = {"user_message": "hi [no tools]", "model_config": MODEL}
    done = (await stack.http.post("/api/v1/execute?wait=true", json=body)).json()
    assert done["status"] == "completed" and done["temporal_ui_url"] is None
    assert (await stack.task(done["task_id"]))["temporal_ui_url"] is None
