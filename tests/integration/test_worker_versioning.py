"""A rolling upgrade with Temporal Worker Versioning, against the dev server: workers of an
old and a new build side by side on one task queue and one event store, promoted with
`temporal-executor deployment set-current`. A task parked for approval on the old version
finishes on the new workers (`auto_upgrade`, the default: the old version is drained while
that task still waits, and its workers stop before the approval) or on the old ones
(`pinned`: the old version is draining until that task has ended, then drained); a task
started after the promotion runs on the new version."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from temporal_executor.cli.deployment import describe
from temporal_executor.devserver import DevServer
from tests.a2a.conftest import worker_only
from tests.conftest import Stack, config_data, free_port, running_stack, weather_tool, write_config
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import MODEL, calls_to, types, wait_status

# The server refreshes a draining version's status every 3 minutes by default, and counts a
# version that stopped being current as active for 3 more: seconds here.
FAST_DRAINAGE = (
    "--dynamic-config-value", 'matching.wv.VersionDrainageStatusRefreshInterval="1s"',
    "--dynamic-config-value", 'matching.wv.VersionDrainageStatusVisibilityGracePeriod="1s"',
)  # fmt: skip


@pytest.fixture(scope="module")
async def temporal_fast_drainage(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    state = tmp_path_factory.mktemp("temporal-versioning")
    server = DevServer(f"127.0.0.1:{free_port()}", free_port(), state, extra_args=FAST_DRAINAGE)
    async with server.running():
        yield f"{server.ip}:{server.port}"


def worker(data: dict[str, Any], build: str) -> contextlib.AbstractAsyncContextManager[None]:
    """A worker process's services in this process, polling as version `build`."""
    deployment = {**data["temporal"]["deployment"], "build_id": build}
    return worker_only({**data, "temporal": {**data["temporal"], "deployment": deployment}})


async def cli(config_path: Path, *args: str) -> str:
    """`temporal-executor --config config_path ARGS…` as an operator runs it (a process of
    its own: this loop goes on running the workers meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "temporal_executor", "--config", str(config_path), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def builds_of(stack: Stack, task_id: str) -> list[str]:
    """The build id of the worker that completed each of the task's workflow tasks."""
    handle = stack.services.client.get_workflow_handle(f"agent-execution-{task_id}")
    history = await handle.fetch_history()
    return [
        e.workflow_task_completed_event_attributes.deployment_version.build_id
        for e in history.events
        if e.HasField("workflow_task_completed_event_attributes")
    ]


async def wait_version(stack: Stack, name: str, build: str, status: str) -> float:
    """Seconds until Temporal reports version `build` of `name` in `status`."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    found = None
    while loop.time() - started < 20:
        found = (await describe(stack.services.client, name)).version(build)
        if found is not None and found.status == status:
            return loop.time() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"{build} never became {status}: {found}")


@pytest.mark.parametrize("behavior", ["auto_upgrade", "pinned"])
async def test_rolling_upgrade_with_worker_versioning(
    behavior: str,
    temporal_fast_drainage: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    name = f"te-{uuid.uuid4().hex[:8]}"
    data = config_data(temporal_fast_drainage, openai_fake.url, tmp_path)
    data["temporal"]["deployment"] = {"name": name, "versioning_behavior": behavior}
    config_path = write_config(data, tmp_path / "config.yaml")
    old, new = "0.1.0-old", "0.2.0-new"
    parked, after = f"parked-{behavior}", f"after-{behavior}"  # one Temporal server: ids differ
    tool = weather_tool(tool_server)

    async with (
        running_stack(data, worker=False) as stack,  # the API: not versioned
        contextlib.AsyncExitStack() as old_workers,
        contextlib.AsyncExitStack() as new_workers,
    ):
        await old_workers.enter_async_context(worker(data, old))
        await cli(config_path, "deployment", "set-current", "--build-id", old, "--wait", "30s")
        await stack.execute(
            task_id=parked, user_message="Weather in Oslo?", model_config=MODEL,
            tools=[tool], require_approval=True,
        )  # fmt: skip
        await wait_status(stack, parked, "awaiting_approval")

        # The rollout: the new build's workers start beside the old ones, and are promoted.
        await new_workers.enter_async_context(worker(data, new))
        out = await cli(
            config_path, "deployment", "set-current", "--build-id", new, "--wait", "30s"
        )
        assert f"current version {new} (was {old})" in out
        await stack.execute(
            task_id=after, user_message="Weather in Rome?", model_config=MODEL, tools=[tool]
        )
        await wait_status(stack, after, "completed")
        assert set(await builds_of(stack, after)) == {new}

        if behavior == "auto_upgrade":
            # Nothing is pinned to the old version: it drains while the task is still
            # parked, and its workers go before anyone approves.
            await wait_version(stack, name, old, "drained")
            await old_workers.aclose()
        else:
            # Pinned to the old version, the parked task keeps it draining: still so after
            # the server has re-checked a few times (every second here).
            await wait_version(stack, name, old, "draining")
            await asyncio.sleep(3)
            still = (await describe(stack.services.client, name)).version(old)
            assert still is not None and still.status == "draining"
        response = await stack.http.post(
            f"/api/v1/approve/agent-execution-{parked}", json={"approved": True}
        )
        assert response.status_code == 200, response.text
        await wait_status(stack, parked, "completed")
        if behavior == "pinned":
            await wait_version(stack, name, old, "drained")  # its last pinned task ended

        builds = await builds_of(stack, parked)
        assert builds[0] == old
        assert set(builds[1:]) == ({new} if behavior == "auto_upgrade" else {old})
        events = await stack.events(parked)
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert types(events)[-1] == "task.completed" and "tool.result" in types(events)
        queries = [c["arguments"]["query"] for c in await calls_to(tool_server)]
        assert queries.count("Weather in Oslo?") == 1

        status = json.loads(await cli(config_path, "deployment", "status", "--json"))
        assert status["current"] == new
        assert {v["build_id"]: v["status"] for v in status["versions"]} == {
            new: "current",
            old: "drained",
        }
