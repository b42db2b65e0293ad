"""`serve` and `worker` as real processes, configured as in production: traces to an OTLP
receiver through the standard `OTEL_*` variables, JSON logs, the worker's own metrics port.
One task (an LLM call that fails once and is retried, a tool call, an answer) must show as
one trace from the HTTP request to each LLM and tool call, as JSON log lines that name the
task, and as series on both `/metrics` endpoints."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import (
    FAKE_KEY_ENV,
    config_data,
    free_port,
    read_sse,
    weather_tool,
    write_config,
)
from tests.fakes.server import FakeServer
from tests.observability.otlp_receiver import CLIENT, SERVER, OTLPReceiver, Span
from tests.processes import service_process, wait_healthy

PROMPT = "What is the weather in Zurich today?"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@dataclass
class Ran:
    """What one task left: its id, the spans received, the log lines, both scrapes."""

    task_id: str
    task: dict[str, Any]
    spans: list[Span]
    worker_log: list[str]
    api_log: list[str]
    worker_metrics: str
    api_metrics: str


@pytest.fixture(scope="module")
async def ran(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Ran]:
    tmp_path = tmp_path_factory.mktemp("processes")
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["observability"] = {"metrics_port": free_port()}
    config_path = write_config(data, tmp_path / "config.yaml")
    api_url = f"http://127.0.0.1:{data['server']['port']}"
    metrics_url = f"http://127.0.0.1:{data['observability']['metrics_port']}"
    async with httpx.AsyncClient() as http:
        await http.post(openai_fake.base_url + "/_fake/reset")
        await http.post(openai_fake.base_url + "/_fake/enqueue", json=[{"status": 500}])
    with OTLPReceiver() as receiver:
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_SERVICE_NAME": "agents-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "TEMPORAL_EXECUTOR__LOGGING__FORMAT": "json",
        }
        with (
            service_process(config_path, tmp_path / "api.log", "serve", env=env),
            service_process(config_path, tmp_path / "worker.log", "worker", env=env),
        ):
            # Two processes starting at once on a busy machine: give them time.
            try:
                await wait_healthy(api_url, within=60)
                await wait_healthy(metrics_url, within=60)
            except AssertionError as exc:
                logs = [(tmp_path / name).read_text() for name in ("api.log", "worker.log")]
                raise AssertionError(f"{exc}\napi:\n{logs[0]}\nworker:\n{logs[1]}") from None
            async with httpx.AsyncClient(timeout=60) as http:
                response = await http.post(
                    api_url + "/api/v1/execute",
                    json={
                        "session_id": "obs-session",
                        "user_message": PROMPT,
                        "model_config": {"provider": "openai", "model": "gpt-4o-mini"},
                        "tools": [weather_tool(tool_server)],
                    },
                    headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"},
                )
                assert response.status_code == 202, response.text
                task_id = response.json()["task_id"]
                http.base_url = httpx.URL(api_url)
                events = await asyncio.wait_for(read_sse(http, task_id), 60)
                assert events[-1]["event"] == "task.completed", events[-1]
                task = (await http.get(f"/api/v1/tasks/{task_id}")).json()
                spans = receiver.wait_for("execute_tool get_weather")
                spans = receiver.wait_for("chat gpt-4o-mini", 2)
                spans = receiver.wait_for("CompleteWorkflow:AgentExecutionWorkflow")
                # Core's count of completed workflows can reach the worker's metrics after the
                # completion's span (CI saw it missing once): scrape until it is there, ≤ 10 s.
                for _ in range(50):
                    worker_metrics = (await http.get(metrics_url + "/metrics")).text
                    if "temporal_workflow_completed_total" in worker_metrics:
                        break
                    await asyncio.sleep(0.2)
                api_metrics = (await http.get(api_url + "/metrics")).text
            await asyncio.sleep(0.5)  # the core's forwarded logs come in batches
    yield Ran(
        task_id,
        task,
        spans,
        (tmp_path / "worker.log").read_text().splitlines(),
        (tmp_path / "api.log").read_text().splitlines(),
        worker_metrics,
        api_metrics,
    )


def _by_id(spans: list[Span]) -> dict[str, Span]:
    return {span.span_id: span for span in spans}


def _chain(span: Span, spans: list[Span]) -> list[str]:
    """The names from `span` up to the root of what was received."""
    by_id, names = _by_id(spans), [span.name]
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        names.append(span.name)
    return names


def _url(span: Span) -> str:
    """An HTTP client span's URL (httpx2's instrumentation still writes the older name)."""
    url: str = span.attributes.get("url.full") or span.attributes["http.url"]
    return url


def _named(spans: list[Span], name: str) -> list[Span]:
    return [span for span in spans if span.name == name]


async def test_one_trace_from_the_request_to_each_llm_and_tool_call(ran: Ran) -> None:
    spans = [s for s in ran.spans if s.trace_id == TRACE_ID]
    assert {s.trace_id for s in ran.spans if "gen_ai.operation.name" in s.attributes} == {TRACE_ID}
    (request,) = _named(spans, "POST /api/v1/execute")
    assert request.kind == SERVER and request.parent_id == CALLER_SPAN
    assert request.resource["service.name"] == "agents-under-test"
    assert request.resource["temporal_executor.role"] == "api"
    # TracingInterceptor's workflow spans are markers beside each other under the span
    # that started the workflow; each activity's run sits under its StartActivity.
    upstream = ["StartWorkflow:AgentExecutionWorkflow", "fastapi.endpoint", request.name]
    (run,) = _named(spans, "RunWorkflow:AgentExecutionWorkflow")
    assert _chain(run, spans) == [run.name, *upstream]
    assert run.resource["temporal_executor.role"] == "worker"
    llm_path = ["chat gpt-4o-mini", "RunActivity:invoke_llm", "StartActivity:invoke_llm", *upstream]
    chats = _named(spans, "chat gpt-4o-mini")
    assert len(chats) == 3  # the attempt that got a 500, its retry, the answer
    for chat in chats:
        assert _chain(chat, spans) == llm_path
        assert chat.kind == CLIENT and chat.resource["temporal_executor.role"] == "worker"
        # The provider SDK's HTTP request, traced under its LLM span (httpx instrumented).
        http = [s for s in spans if s.parent_id == chat.span_id and s.kind == CLIENT]
        assert http and all("/chat/completions" in _url(s) for s in http)
    (tool,) = _named(spans, "execute_tool get_weather")
    tool_path = [tool.name, "RunActivity:execute_tool", "StartActivity:execute_tool"]
    assert _chain(tool, spans) == [*tool_path, *upstream]
    (http,) = [s for s in spans if s.parent_id == tool.span_id]
    assert http.kind == CLIENT and _url(http).endswith("/weather")


async def test_llm_spans_carry_the_gen_ai_attributes(ran: Ran) -> None:
    chats = _named(ran.spans, "chat gpt-4o-mini")
    (failed,) = [c for c in chats if c.status == 2]
    assert failed.attributes["error.type"] == "llm_error"
    answered = [c for c in chats if c.status != 2]
    assert len(answered) == 2
    for chat in answered:
        a = chat.attributes
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.provider.name"] == a["gen_ai.system"] == "openai"
        assert a["gen_ai.request.model"] == "gpt-4o-mini"
        assert a["gen_ai.conversation.id"] == "obs-session"
        assert a["executor.task_id"] == ran.task_id
        assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert sorted(c.attributes["gen_ai.response.finish_reasons"][0] for c in answered) == [
        "stop",
        "tool_calls",
    ]
    usage = ran.task["usage"]
    assert (
        sum(c.attributes["gen_ai.usage.input_tokens"] for c in answered) == usage["prompt_tokens"]
    )
    (tool,) = _named(ran.spans, "execute_tool get_weather")
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "get_weather"
    assert tool.attributes["executor.tool.type"] == "http"


async def test_no_prompt_or_answer_in_spans_without_capture_content(ran: Ran) -> None:
    answer = ran.task["result"]["content"]
    for span in ran.spans:
        text = json.dumps(span.attributes)
        assert PROMPT not in text and answer not in text, (span.name, span.attributes)
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.tool.call.arguments" not in span.attributes


def _json_lines(lines: list[str]) -> list[dict[str, Any]]:
    """Every log line is one JSON object (the one line a service prints on stdout when it
    is ready aside)."""
    records = []
    for line in lines:
        if line.startswith("temporal-executor ") and " running" in line:
            continue
        records.append(json.loads(line))
    return records


async def test_json_logs_name_the_task(ran: Ran) -> None:
    records = _json_lines(ran.worker_log)
    _json_lines(ran.api_log)
    mine = [r for r in records if r.get("task_id") == ran.task_id]
    started = next(r for r in mine if r["message"] == f"task {ran.task_id} started")
    assert started["logger"] == "temporal_executor.tasks" and started["level"] == "INFO"
    assert started["session_id"] == "obs-session"
    assert started["workflow_id"] == f"agent-execution-{ran.task_id}"
    assert started["activity"] == "record" and started["attempt"] == 1
    assert started["trace_id"] == TRACE_ID and {"time", "run_id", "span_id"} <= set(started)
    ended = next(r for r in mine if r["message"] == f"task {ran.task_id} completed")
    assert ended["status"] == "completed" and ended["duration_s"] > 0
    retried = next(r for r in mine if r["message"].startswith("LLM call openai/gpt-4o-mini"))
    assert retried["level"] == "WARNING" and retried["activity"] == "invoke_llm"
    assert retried["session_id"] == "obs-session" and "retryable_error" in retried["message"]


async def test_logs_hold_no_prompt_and_no_key(ran: Ran) -> None:
    key = os.environ[FAKE_KEY_ENV]
    for line in ran.worker_log + ran.api_log:
        assert PROMPT not in line and key not in line


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_the_worker_serves_its_metrics_and_the_sdks(ran: Ran) -> None:
    samples = _samples(ran.worker_metrics)
    llm = {"provider": "openai", "model": "gpt-4o-mini"}
    assert _value(samples, "executor_llm_calls_total", **llm, outcome="ok") == 2
    assert _value(samples, "executor_llm_calls_total", **llm, outcome="retryable_error") == 1
    tool = {"tool": "get_weather", "type": "http"}
    assert _value(samples, "executor_tool_calls_total", **tool, outcome="ok") == 1
    assert _value(samples, "executor_tasks_ended_total", status="completed") == 1
    names = {name for name, _ in samples}
    assert {
        "temporal_worker_task_slots_available",
        "temporal_workflow_completed_total",
        "temporal_workflow_task_execution_latency_seconds_bucket",
    } <= names
    assert ran.task_id not in ran.worker_metrics


async def test_the_api_counts_open_tasks(ran: Ran) -> None:
    samples = _samples(ran.api_metrics)
    assert ("executor_tasks_open", frozenset({("status", "running")})) in samples
    assert ("executor_tasks_open", frozenset({("status", "awaiting_approval")})) in samples
    assert ran.task_id not in ran.api_metrics
