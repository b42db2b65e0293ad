"""Upgrades without draining: the previous release (`previous_release`, installed from git by
`release.py`) runs as real processes, starts tasks, is stopped, and this version takes them
over on the same state; every task finishes right, once.

Scenarios (`tasks.py`), started on the old release: a tool call parked awaiting approval, a
task parked on `ask_user`, a session's finished first turn, a continue-as-new chain parked at
an approval after continuing as new, a side-effect tool call in flight, an LLM stream in
flight. Finished on the new one: approvals granted, the question answered, the next turn
sent, the cut call and stream made again. Checked: status `completed` with the fake's
deterministic answer, one terminal event, events 1..n over SSE without gaps or repeats, each
side-effect call applied once (`/_tool/effects`), the cut call delivered again and the
stream started over (so the stop did cut them), the chain continued as new on both sides,
the next turn sent with the first turn's conversation.

Two variants:
- `dev` on SQLite: the old `temporal-executor dev` on a state directory, killed with
  `kill -9` (its whole process group: the embedded Temporal server too), then the new `dev`
  on the same directory. Before the kill, a new `serve` runs beside the old `dev` on the same
  SQLite file and Temporal server (its store start-up on the file the old one uses): it reads
  the old tasks, and a task submitted to it is run by the old worker.
- `serve` + `worker` on PostgreSQL (the suite's Temporal dev server): the old API and worker
  run the tasks; a new API and worker start beside them on the same database and task queue
  (a rolling upgrade) while the old ones still run: each API reads the other's tasks, an
  approval sent to the new API is run by the old worker (its sticky queue; checked by the
  worker identity in the history) after the new processes' store start-up; then the old ones
  get SIGTERM, and the new ones finish everything.

Figures (this machine: 2 cores shared with other work, load average 3.5-6): installing the
previous release takes 1.5-4.7 s (a venv reusing this venv's dependencies, see `release.py`;
one with its own dependencies from pip's cache took 41.7 s), 0.1 s when cached. Per phase,
seconds, over five runs:
- dev on SQLite: old dev up 1.3-4.7, tasks parked 2.5-4.3, new serve beside it 2.0-2.9,
  in flight + kill -9 0.4-0.5, new dev up 2.0-4.4, all finished 6.3-8.4 (the cut calls wait
  out the workflow task timeout, 10 s, counted from before the kill); total 18.7-24.0;
- serve + worker on PostgreSQL: old up 1.5-7.6, parked and in flight 3.1-9.2, new up 1.2-8.0,
  both serving 2.9-3.7, old stopped by SIGTERM 6.6-8.3 (1 s grace + 5 s margin for the calls
  it leaves), all finished 3.4-7.5; total 19.9-47.0;
- the whole directory (with the suite's Temporal and PostgreSQL servers): 44-53 s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from temporal_executor.workflows import workflow_id
from tests.chaos.scenario import http_tool, submit, task_ids
from tests.chaos.test_temporal_faults import wait_status
from tests.conftest import FAKE_KEY_ENV, config_data, free_port, read_sse, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process, wait_healthy
from tests.upgrade.release import Release
from tests.upgrade.tasks import UpgradeTasks

CHAIN_ITERATIONS = 150


def upgrade_config(
    temporal: str, openai: FakeServer, chain: FakeServer, tmp_path: Path
) -> dict[str, Any]:
    """The config both releases run with (a user's file, kept across the upgrade)."""
    data = config_data(
        temporal,
        openai.url,
        tmp_path,
        max_iterations=CHAIN_ITERATIONS,
        history_limit=100,
        # SIGTERM: calls get 1 s, then the worker leaves them (they are made again).
        graceful_shutdown_timeout="1s",
    )
    data["llm"]["providers"].append(
        {
            "name": "openai-compatible",
            "api_key_env": FAKE_KEY_ENV,
            "config": {"base_url": chain.url},
        }
    )
    return data


class Phases:
    """Wall-clock seconds per phase, printed at the end (`pytest -s` shows them)."""

    def __init__(self) -> None:
        self.began = self.last = time.monotonic()
        self.took: list[tuple[str, float]] = []

    def done(self, phase: str) -> None:
        now = time.monotonic()
        self.took.append((phase, now - self.last))
        self.last = now

    def report(self) -> str:
        parts = ", ".join(f"{phase} {seconds:.1f}" for phase, seconds in self.took)
        return f"{parts}; total {time.monotonic() - self.began:.1f} s"


async def connect(host_port: str) -> Client:
    return await Client.connect(host_port)


async def up(url: str, process: subprocess.Popen[bytes], *logs: Path) -> None:
    """The API at `url` (of `process`) answers; else fail with the ends of its logs."""
    try:
        await wait_healthy(url, process=process)
    except AssertionError as exc:
        tails = [
            f"{log}:\n{log.read_text(errors='replace')[-3000:]}" for log in logs if log.exists()
        ]
        raise AssertionError("\n".join([str(exc), *tails])) from None


async def test_dev_on_sqlite_killed(
    previous_release: Release,
    openai_fake: FakeServer,
    chain_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    temporal = f"127.0.0.1:{free_port()}"
    data = upgrade_config(temporal, openai_fake, chain_fake, tmp_path)
    data["temporal"]["ui_port"] = free_port()
    del data["events"]["url"]  # in the state directory, as `dev` keeps it
    config = write_config(data, tmp_path / "config.yaml")
    url = f"http://127.0.0.1:{data['server']['port']}"
    tasks = UpgradeTasks(openai_fake, chain_fake, tool_server)
    phases = Phases()

    old = previous_release.python
    temporal_log = tmp_path / "state" / "temporal.log"
    log = tmp_path / "old.log"
    with service_process(config, log, "dev", python=old, process_group=True) as p:
        await up(url, p, log, temporal_log)
        phases.done("old dev up")
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await tasks.park(http, await connect(temporal))
            phases.done("tasks parked")
            await beside_old_dev(data, tmp_path, http, tasks)
            phases.done("new serve beside it")
            await tasks.cut(http)
        os.killpg(p.pid, signal.SIGKILL)
        await asyncio.to_thread(p.wait)
        phases.done("in flight, kill -9")
    tasks.stopped()

    log = tmp_path / "new.log"
    with service_process(config, log, "dev", process_group=True) as p:
        await up(url, p, log, temporal_log)
        phases.done("new dev up")
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await tasks.finish(http, await connect(temporal))
        phases.done("all finished")
    print(f"dev on SQLite, kill -9: {phases.report()}")


async def beside_old_dev(
    data: dict[str, Any], tmp_path: Path, old: httpx.AsyncClient, tasks: UpgradeTasks
) -> None:
    """A new API on the old `dev`'s SQLite file and Temporal server: its store start-up runs on
    the file in use; both APIs serve, and the old worker runs a task the new API started."""
    state = Path(data["state_dir"])
    port = free_port()
    beside = {**data, "server": {**data["server"], "port": port}}
    beside["events"] = {**data["events"], "url": f"sqlite:///{state / 'events.db'}"}
    # (`dev` tells its API where its Temporal UI is; a separate API is told by its config.)
    ui = f"http://127.0.0.1:{data['temporal']['ui_port']}"
    beside["temporal"] = {**data["temporal"], "ui_url": ui}
    config = write_config(beside, tmp_path / "beside.yaml")
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "beside.log"
    with service_process(config, log, "serve") as process:
        await up(url, process, log)
        async with httpx.AsyncClient(base_url=url, timeout=60) as new:
            await both_serve(old, new, tasks)


# What this version's task body adds to the previous release's.
ADDED: dict[str, Any] = {
    "tenant": "default",
    "waiting_for_capacity": [],
    "forked_from": None,  # time travel (0.2.0): not forked, no forks yet
    "forks": [],
    "artifacts": [],
    "priority": None,  # (recorded before there were priorities)
    "queued_behind": None,
}
# And to its usage: the calls that reported none (none here), and the cost (null: the previous
# release priced no call, and no price is configured here).
ADDED_USAGE: dict[str, Any] = {"unreported": 0, "cost": None}
# And to its pauses: `nested` (whose calls or questions they are when another agent's; none
# here).
PAUSE_ADDED: dict[str, Any] = {"nested": None}


def as_this_version(body: dict[str, Any]) -> dict[str, Any]:
    """The previous release's task body as this version's API shows the same task."""
    by_model = {k: {**u, **ADDED_USAGE} for k, u in body["usage_by_model"].items()}
    usage = {**body["usage"], **ADDED_USAGE}
    shown = {**body, **ADDED, "usage": usage, "usage_by_model": by_model}
    for pause in ("pending_approval", "pending_input"):
        if shown.get(pause) is not None:
            shown[pause] = {**shown[pause], **PAUSE_ADDED}
    return shown


async def both_serve(old: httpx.AsyncClient, new: httpx.AsyncClient, tasks: UpgradeTasks) -> None:
    """The new API reads the tasks the old one started as the old one does (and says whose
    they are: the `default` tenant's); a task submitted to each API finishes, and each API
    streams both, the same."""
    for name in ("approval", "ask_user", "turn1", "chain"):
        task_id = tasks.ids[name]
        mine = (await old.get(f"/api/v1/tasks/{task_id}")).json()
        theirs = (await new.get(f"/api/v1/tasks/{task_id}")).json()
        assert theirs == as_this_version(mine), (mine, theirs)
    started = task_ids("beside", 2)
    for http, task_id in zip((old, new), started, strict=True):
        await submit(http, task_id, user_message=f"hello {task_id}")
    for task_id in started:
        mine = await asyncio.wait_for(read_sse(old, task_id), 60)
        theirs = await asyncio.wait_for(read_sse(new, task_id), 60)
        assert mine == theirs, (mine, theirs)
        assert [e["id"] for e in mine] == list(range(1, len(mine) + 1))
        assert mine[-1]["event"] == "task.completed", mine[-1]
        assert mine[-1]["data"]["result"]["content"] == f"Echo: hello {task_id}"


async def test_serve_and_worker_on_postgres_rolling(
    previous_release: Release,
    temporal: str,
    openai_fake: FakeServer,
    chain_fake: FakeServer,
    tool_server: FakeServer,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    data = upgrade_config(temporal, openai_fake, chain_fake, tmp_path)
    data["events"]["url"] = postgres_url
    old_url, new_url = (f"http://127.0.0.1:{port}" for port in (free_port(), free_port()))
    old_config = write_config(_on(data, old_url), tmp_path / "old.yaml")
    new_config = write_config(_on(data, new_url), tmp_path / "new.yaml")
    tasks = UpgradeTasks(openai_fake, chain_fake, tool_server)
    rolled = task_ids("rolled", 1)[0]  # approved while both releases run
    client = await connect(temporal)
    phases = Phases()

    with ExitStack() as stack:
        old = previous_release.python
        old_api, old_worker = (
            stack.enter_context(
                service_process(old_config, tmp_path / f"old-{c}.log", c, python=old)
            )
            for c in ("serve", "worker")
        )
        await up(old_url, old_api, tmp_path / "old-serve.log")
        phases.done("old serve + worker up")
        async with (
            httpx.AsyncClient(base_url=old_url, timeout=60) as old_http,
            httpx.AsyncClient(base_url=new_url, timeout=60) as new_http,
        ):
            await tasks.park(old_http, client)
            lookup = http_tool(tool_server, "lookup", "/weather")
            await submit(old_http, rolled, tools=[lookup], require_approval=True)
            await wait_status(old_http, rolled, "awaiting_approval")
            await tasks.cut(old_http)
            phases.done("tasks parked, in flight")

            new_api, _ = (
                stack.enter_context(service_process(new_config, tmp_path / f"new-{c}.log", c))
                for c in ("serve", "worker")
            )
            await up(new_url, new_api, tmp_path / "new-serve.log")
            phases.done("new serve + worker up")
            await rolling(old_http, new_http, tasks, rolled, client, old_worker)
            phases.done("both serving")

            for process in (old_api, old_worker):
                process.send_signal(signal.SIGTERM)
            codes = [await asyncio.to_thread(p.wait, 30) for p in (old_api, old_worker)]
            phases.done("old stopped (SIGTERM)")
            tasks.stopped()
            await tasks.finish(new_http, client)
            phases.done("all finished")
    assert codes == [0, 0], codes
    print(f"serve + worker on PostgreSQL, rolling, SIGTERM: {phases.report()}")


def _on(data: dict[str, Any], url: str) -> dict[str, Any]:
    return {**data, "server": {**data["server"], "port": int(url.rsplit(":", 1)[1])}}


async def rolling(
    old: httpx.AsyncClient,
    new: httpx.AsyncClient,
    tasks: UpgradeTasks,
    rolled: str,
    client: Client,
    old_worker: subprocess.Popen[bytes],
) -> None:
    """Old and new side by side on one database and task queue."""
    await both_serve(old, new, tasks)

    # An approval the new API takes is run by the old worker, which holds the task.
    response = await new.post(f"/api/v1/approve/{workflow_id(rolled)}", json={"approved": True})
    assert response.status_code == 200, response.text
    events = await asyncio.wait_for(read_sse(old, rolled), 60)
    assert events[-1]["event"] == "task.completed", events[-1]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    history = await client.get_workflow_handle(workflow_id(rolled)).fetch_history()
    completed = [
        e.workflow_task_completed_event_attributes.identity
        for e in history.events
        if e.HasField("workflow_task_completed_event_attributes")
    ]
    assert completed[-1].startswith(f"{old_worker.pid}@"), (old_worker.pid, completed)
