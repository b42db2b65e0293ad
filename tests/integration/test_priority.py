"""Priority and fairness on a small scale: a backlog queued while no worker runs, then one
worker with two workflow-task slots drains it. An urgent task (priority 5) behind 30 of
priority 1 is among the first done; 3 tasks of one tenant behind 30 of another (the default
`executor.fairness_key: tenant`) all finish in the first third (the benchmark does the same
with 300, by API key). Bounded orderings, never times."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.common import Priority

from temporal_executor.api.submission import dispatch
from temporal_executor.config import ExecutorConfig
from temporal_executor.llm.registry import ProviderRegistry
from temporal_executor.tenants import scoped
from temporal_executor.worker import build_worker
from temporal_executor.workflows import Dispatch, workflow_id
from tests.conftest import Stack, config_data, running_stack
from tests.fakes.server import FakeServer
from tests.tenants import TENANTS, bearer, tenant_keys

MODEL = {"provider": "openai", "model": "gpt-4o-mini", "stream": False}
BACKLOG = 30
BATCH, INTERACTIVE = "alice", "bob"  # tenants team-a and team-b


@pytest.fixture
async def api_only(temporal: str, openai_fake: FakeServer, tmp_path: Path) -> AsyncIterator[Stack]:
    """The API alone (tasks queue in Temporal); `draining` runs a worker beside it."""
    data = config_data(temporal, openai_fake.url, tmp_path, max_concurrent_workflows=2)
    data["executor"]["fairness_weights"] = {TENANTS[INTERACTIVE]: 2.0}
    with tenant_keys(data):
        async with running_stack(data, worker=False) as stack:
            stack.http.headers.update(bearer(BATCH))
            yield stack


@contextlib.asynccontextmanager
async def draining(stack: Stack) -> AsyncIterator[None]:
    """A worker (two workflow-task slots) for the stack's task queue, on a client of its own."""
    services = stack.services
    client = await Client.connect(
        stack.config.temporal.host_port, data_converter=services.client.data_converter
    )
    providers = ProviderRegistry(services.providers)
    worker = build_worker(client, stack.config, services.store, providers, services.tools)
    try:
        async with worker:
            yield
    finally:
        await providers.aclose()


async def submit(stack: Stack, key: str, task_id: str, **body: Any) -> None:
    response = await stack.http.post(
        "/api/v1/execute",
        json={"task_id": task_id, "user_message": f"{task_id} [no tools]", "model_config": MODEL}
        | body,
        headers=bearer(key),
    )
    assert response.status_code == 202, response.text


async def finishing_order(stack: Stack, tasks: list[tuple[str, str]]) -> list[str]:
    """The tasks (key name, task id) in the order they completed (by their terminal event's
    time), by id."""
    ended: dict[str, float] = {}
    for _ in range(1200):
        for key, task_id in tasks:
            if task_id not in ended:
                log = await stack.services.tasks.log(scoped(TENANTS[key], task_id))
                if log and log[-1].terminal:
                    assert log[-1].type == "task.completed", log[-1]
                    ended[task_id] = log[-1].time
        if len(ended) == len(tasks):
            return sorted(ended, key=ended.__getitem__)
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(tasks) - len(ended)} tasks did not complete")


async def priority_of(stack: Stack, key: str, task_id: str) -> Any:
    """The task's priority as Temporal has it."""
    handle = stack.services.client.get_workflow_handle(workflow_id(scoped(TENANTS[key], task_id)))
    return (await handle.describe()).raw_description.workflow_execution_info.priority


async def test_urgent_first_and_fair_shares(api_only: Stack) -> None:
    stack = api_only
    batch = [(BATCH, f"prio-low-{i}") for i in range(BACKLOG)]
    for key, task_id in batch:
        await submit(stack, key, task_id, priority=1)
    await submit(stack, BATCH, "prio-urgent", priority=5)
    priority = await priority_of(stack, BATCH, "prio-urgent")
    assert (priority.priority_key, priority.fairness_key) == (1, "team-a")  # Temporal's
    async with draining(stack):
        order = await finishing_order(stack, [*batch, (BATCH, "prio-urgent")])
    assert order.index("prio-urgent") < 3, order  # before at least 90 % of the backlog
    assert (await stack.task("prio-urgent"))["priority"] == 5
    assert (await stack.task("prio-low-0"))["priority"] == 1

    many = [(BATCH, f"fair-batch-{i}") for i in range(BACKLOG)]
    few = [(INTERACTIVE, f"fair-interactive-{i}") for i in range(3)]
    for key, task_id in [*many, *few]:
        await submit(stack, key, task_id)
    priority = await priority_of(stack, *few[0])
    assert (priority.fairness_key, priority.fairness_weight) == ("team-b", 2.0)
    async with draining(stack):
        order = await finishing_order(stack, [*many, *few])
    last = max(order.index(task_id) for _, task_id in few)
    assert last < len(order) // 3, order  # all three within the first third


def test_fairness_keys_by_config() -> None:
    """`executor.fairness_key` picks whose backlog a task counts against: its tenant (the
    default), the key that sent it, its session (a template's: its tenant), or nobody; a
    key longer than Temporal takes (64 bytes) stands in by its digest, one per session."""
    executor = ExecutorConfig(fairness_weights={"team-a": 0.5})
    assert dispatch(executor, None, tenant="team-a", caller="ci") == Dispatch(
        priority=3, fairness_key="team-a", fairness_weight=0.5
    )
    assert dispatch(executor, 5).temporal() == Priority(priority_key=1, fairness_key="default")
    by_key = executor.model_copy(update={"fairness_key": "api_key"})
    assert dispatch(by_key, 2, tenant="team-a", caller="ci").fairness_key == "ci"
    by_session = executor.model_copy(update={"fairness_key": "session"})
    assert dispatch(by_session, 2, tenant="t", session="t~s1").fairness_key == "t~s1"
    assert dispatch(by_session, 2, tenant="t").fairness_key == "t"  # a template's
    long = dispatch(by_session, None, session="s" * 100).fairness_key
    other = dispatch(by_session, None, session="t" * 100).fairness_key
    assert long is not None and len(long) == 64 and long != other
    nobody = executor.model_copy(update={"fairness_key": "none"})
    assert dispatch(nobody, None, caller="ci").temporal() == Priority(priority_key=3)
