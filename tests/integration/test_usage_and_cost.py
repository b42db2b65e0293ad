"""Usage a server did not report is unknown, not 0, and what calls cost (the price table,
`max_cost`), end to end: real Temporal, the OpenAI wire fake (`{"usage": false}`: a reply
without usage, as llama.cpp's server streams), the service's REST API, A2A (JSON-RPC), the
CLI's `run`, and the Prometheus series."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from temporal_executor.cli import main
from temporal_executor.observability import series
from tests.conftest import config_data, enqueue, running_stack, write_config
from tests.fakes.server import FakeServer

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
LABELS = {"provider": "openai", "model": "gpt-4o-mini"}
PRICE = {"input": 0.15, "output": 0.6}  # US dollars per million tokens


def _sample(name: str) -> float:
    return series.REGISTRY.get_sample_value(name, LABELS) or 0.0


async def test_unknown_usage_reads_unknown_everywhere_and_cost_is_counted(
    temporal: str, openai_fake: FakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["llm"]["prices"] = {"openai/gpt-4o-*": PRICE}
    data["a2a"] = {"name": "usage-agent", "default_agent": {"model_config": MODEL}}
    cost_before = _sample("executor_llm_cost_usd_total")
    unreported_before = _sample("executor_llm_usage_unreported_total")
    async with running_stack(data) as stack:
        # A call that reports its usage: its cost by the price table, on the task and its model.
        body = {"session_id": "usage", "model_config": MODEL}
        priced = await stack.http.post(
            "/api/v1/execute?wait=true", json={**body, "task_id": "priced", "user_message": "hi"}
        )
        usage = priced.json()["usage"]
        cost = (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.6) / 1e6
        assert usage["unreported"] == 0 and usage["cost"] == pytest.approx(cost)
        assert priced.json()["usage_by_model"]["openai/gpt-4o-mini"]["cost"] == usage["cost"]
        assert _sample("executor_llm_cost_usd_total") - cost_before == pytest.approx(cost)

        # A call whose server reports no usage, run with the CLI: its tokens are unknown.
        await enqueue(openai_fake, [{"usage": False}])
        config = write_config(data, tmp_path / "config.yaml")
        argv = ["--config", str(config), "run", "remember me", "--url", stack.url]
        argv += ["--task-id", "unknown", "--session-id", "usage"]
        assert await asyncio.to_thread(main, argv) == 0
        said = capsys.readouterr().err
        assert "[completed: tokens unknown (1 LLM call reported no usage)]" in said
        task = await stack.task("unknown")
        assert task["usage"] == {
            "prompt_tokens": None,
            "completion_tokens": None,
            "total_tokens": None,
            "cache_read_tokens": None,
            "cache_creation_tokens": None,
            "unreported": 1,
            "cost": None,
        }
        session = (await stack.http.get("/api/v1/sessions/usage")).json()
        assert session["usage"]["total_tokens"] is None and session["usage"]["unreported"] == 1
        assert session["usage"]["cost"] is None  # (one call's cost is not known)
        events = await stack.events("unknown")
        message = next(e for e in events if e["event"] == "llm.message")
        assert message["data"]["usage"]["total_tokens"] is None
        assert _sample("executor_llm_usage_unreported_total") - unreported_before == 1
        # The counters add nothing for what no one reported (not 0 tokens: nothing).
        assert _sample("executor_llm_cost_usd_total") - cost_before == pytest.approx(cost)

        # A2A shows it in its style: the unknown counts absent, `unreported` said.
        await enqueue(openai_fake, [{"usage": False}])
        text = {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "hi [no tools]"}]}
        reply = await stack.http.post(
            "/a2a",
            json={"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": text}},
            headers={"A2A-Version": "1.0"},
        )
        a2a_task: dict[str, Any] = reply.json()["result"]["task"]
        assert a2a_task["status"]["state"] == "TASK_STATE_COMPLETED"
        assert a2a_task["metadata"]["usage"] == {"unreported": 1}

        # max_total_tokens counts what is known: a call that reported nothing uses none of it.
        await enqueue(openai_fake, [{"usage": False}])
        within = await stack.http.post(
            "/api/v1/execute?wait=true",
            json={**body, "task_id": "unbudgeted", "user_message": "hi", "max_total_tokens": 1},
        )
        assert within.json()["status"] == "completed"

        # max_cost: the first call that passes it ends the task; a model with no price is
        # refused while a cost budget applies.
        over = await stack.http.post(
            "/api/v1/execute?wait=true",
            json={**body, "task_id": "dear", "user_message": "hi", "max_cost": 1e-9},
        )
        assert over.json()["status"] == "failed", over.json()
        assert over.json()["error"]["code"] == "budget_exceeded"
        assert "max_cost ($1e-09)" in over.json()["error"]["message"]
        unpriced = {**body, "user_message": "hi", "max_cost": 1.0}
        unpriced["model_config"] = {"provider": "openai", "model": "o3"}
        refused = await stack.http.post("/api/v1/execute", json=unpriced)
        assert refused.status_code == 400, refused.text
        assert "max_cost" in refused.json()["error"]["message"]
        assert "openai/o3" in refused.json()["error"]["message"]
