"""`temporal-executor load`, short: real processes (scripted LLM and tool, `dev`) on 127.0.0.1,
every answer checked; and the check itself rejects a wrong answer."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from temporal_executor.loadtest.command import TOOL_RESULT, _check


def test_a_short_load_run_loses_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "temporal_executor", "load", "--tasks", "40", "--concurrency", "10"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "40 tasks at concurrency 10" in done.stdout
    assert "0 lost, 0 failed, 40 answers checked right of 40" in done.stdout
    assert "latency p50" in done.stdout and "p99" in done.stdout


def answer(query: str, status: str = "completed") -> httpx.Response:
    content = TOOL_RESULT + json.dumps({"weather": "sunny", "query": query})
    return httpx.Response(200, json={"status": status, "result": {"content": content}})


def test_the_check_rejects_another_calls_answer() -> None:
    _check(answer("weather in city 1"), "weather in city 1")
    with pytest.raises(AssertionError, match="another call"):
        _check(answer("weather in city 2"), "weather in city 1")
    with pytest.raises(AssertionError, match="HTTP 200"):
        _check(answer("weather in city 1", status="failed"), "weather in city 1")
