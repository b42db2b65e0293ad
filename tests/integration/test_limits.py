"""Shared provider limits in one service (API and worker in this process, real Temporal, the
OpenAI wire fake): a 429 holds back every call to the provider until its Retry-After has
passed; a call that waits spends no retry and holds no worker slot; the wait shows as a
`task.waiting_for_capacity` event, in the task's REST body and in the metrics."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType as HistoryEventType

from tests.conftest import FAKE_KEY_ENV, Stack, config_data, enqueue, fake_requests, running_stack
from tests.fakes.server import FakeServer
from tests.observability.test_metrics_api import scrape, value

LIMITED = {"provider": "openai", "model": "gpt-4o-mini", "stream": False}
OTHER = {"provider": "openai-compatible", "model": "gpt-4o", "stream": False}
RETRY_AFTER = 8.0  # long enough for the other task to run first on a loaded machine


def limited_config(temporal: str, openai: FakeServer, tmp_path: Path) -> dict[str, Any]:
    data = config_data(
        temporal,
        openai.url,
        tmp_path,
        # Fewer slots than calls that wait: a wait that held one would hold up `other`.
        max_concurrent_activities=2,
        retry={"llm": {"max_attempts": 1}},  # a wait that spent a retry would fail its task
    )
    data["llm"]["providers"][0]["limits"] = {}  # no bound: shares 429s only
    other = {
        "name": "openai-compatible",
        "api_key_env": FAKE_KEY_ENV,
        "config": {"base_url": openai.url},
    }
    data["llm"]["providers"].append(other)
    return data


async def history_counts(stack: Stack, task_id: str) -> Counter[str]:
    handle = stack.services.client.get_workflow_handle(f"agent-execution-{task_id}")
    history = await handle.fetch_history()
    return Counter(HistoryEventType.Name(e.event_type) for e in history.events)


async def test_a_429_holds_back_every_call_until_retry_after(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    await enqueue(openai_fake, [{"status": 429, "headers": {"retry-after": str(RETRY_AFTER)}}])
    async with running_stack(limited_config(temporal, openai_fake, tmp_path)) as stack:
        before = await scrape(stack)
        await stack.execute(task_id="first", user_message="hello", model_config=LIMITED)
        for _ in range(200):
            if await fake_requests(openai_fake):
                break
            await asyncio.sleep(0.02)
        for task_id in ("second", "third"):
            await stack.execute(task_id=task_id, user_message="hello", model_config=LIMITED)

        # While the provider is blocked: the REST body and the metrics say who waits for what.
        waiting: list[dict[str, Any]] = []
        for _ in range(100):
            waiting = (await stack.task("third"))["waiting_for_capacity"]
            if waiting:
                break
            await asyncio.sleep(0.02)
        assert [(w["limit"], w["reason"]) for w in waiting] == [("llm:openai", "rate_limited")]
        assert waiting[0]["call"] == "llm:1"
        assert value(await scrape(stack), "executor_capacity_waiting", limit="llm:openai") >= 1

        # Calls to another provider go on meanwhile: the waits hold no worker slot.
        await stack.execute(task_id="elsewhere", user_message="hello", model_config=OTHER)
        events = await asyncio.wait_for(stack.events("elsewhere"), 20)
        assert events[-1]["event"] == "task.completed"

        ended = {
            t: await asyncio.wait_for(stack.events(t), 30) for t in ("first", "second", "third")
        }
        requests = await fake_requests(openai_fake)
        final = await stack.task("third")
        after = await scrape(stack)
        histories = {t: await history_counts(stack, t) for t in ended}

    # One 429; no call to the provider before its Retry-After had passed.
    limited = sorted(r["_http"]["time"] for r in requests if r["model"] == "gpt-4o-mini")
    assert len(limited) == 4  # first (429, then again), second, third
    assert all(t >= limited[0] + RETRY_AFTER - 0.1 for t in limited[1:])
    # The other provider's call was made while the block held (by the fake's clock, not ours).
    other = [r["_http"]["time"] for r in requests if r["model"] == "gpt-4o"]
    assert len(other) == 1 and other[0] < limited[1], "the other provider's task waited"
    for task_id, events in ended.items():
        kinds = [e["event"] for e in events]
        assert kinds[-1] == "task.completed", (task_id, kinds)
        waits = [e["data"] for e in events if e["event"] == "task.waiting_for_capacity"]
        assert waits and waits[0]["limit"] == "llm:openai", (task_id, kinds)
        assert waits[0]["reason"] == "rate_limited" and waits[0]["call"] == "llm:1"
        # Each call ran as local activities only (no regular activity: no retry was spent),
        # with a durable timer between the try that found no capacity and the next.
        assert histories[task_id]["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"] == 0
        assert histories[task_id]["EVENT_TYPE_TIMER_STARTED"] >= 1
    assert final["waiting_for_capacity"] == []
    assert value(after, "executor_capacity_waiting", limit="llm:openai") == 0
    labels = {"limit": "llm:openai", "reason": "rate_limited"}
    waits = value(after, "executor_capacity_waits_total", **labels)
    assert waits - value(before, "executor_capacity_waits_total", **labels) >= 3
