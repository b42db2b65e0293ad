"""`temporal-executor load`: a bounded load run on this machine. It starts, in a temporary
directory, the scripted LLM and tool (`scripted.py`) and `temporal-executor dev` (its own
Temporal server, worker and API) on free 127.0.0.1 ports; runs TASKS one-tool tasks
(LLM → HTTP tool → LLM), CONCURRENCY at a time, over REST; checks every answer (each task's
tool result must carry that task's own query); then reads every task back to find any that
did not end completed. It prints throughput and latency percentiles, and exits 0 only when
nothing was lost, nothing failed and every answer was right. It stops by itself: after
`within` seconds the run is given up and counted as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from .runner import Run, load, percentile

__all__ = ["LoadResult", "run_load"]

KEY_ENV = "TE_LOAD_LLM_KEY"
MODEL = {"provider": "openai", "model": "scripted", "stream": False}
TOOL_RESULT = "Tool results: get_weather="


@dataclass
class LoadResult:
    """What a load run found; `ok` when every task completed with the right answer."""

    tasks: int
    run: Run
    checked: int = 0
    lost: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.run.failures and not self.lost and self.checked == self.tasks

    def report(self) -> str:
        run = self.run
        seconds = [percentile(run.latencies, p) for p in (50, 95, 99)]
        lines = [
            f"{self.tasks} tasks at concurrency {run.concurrency} in {run.elapsed:.1f} s: "
            f"{run.throughput:.1f} tasks/s",
            "latency p50 {:.0f} ms, p95 {:.0f} ms, p99 {:.0f} ms".format(
                *(s * 1000 for s in seconds)
            ),
            f"{len(self.lost)} lost, {run.failures} failed, {self.checked} answers checked "
            f"right of {self.tasks}",
        ]
        lines += [f"  {error}" for error in self.errors[:5]]
        return "\n".join(lines)


def run_load(tasks: int, concurrency: int, within: float) -> LoadResult:
    """The whole run: start everything, drive it, stop everything."""
    with tempfile.TemporaryDirectory(prefix="te-load-") as scratch:
        work = Path(scratch)
        llm_port = free_port()
        llm = [sys.executable, "-m", "temporal_executor.loadtest.scripted", "--port", str(llm_port)]
        with _process("scripted", llm, work):
            config_path, api = _config(work, f"http://127.0.0.1:{llm_port}")
            dev = [sys.executable, "-m", "temporal_executor", "--config", str(config_path), "dev"]
            with _process("dev", dev, work, env={KEY_ENV: "sk-load-not-a-real-key"}) as service:
                return asyncio.run(
                    _drive(api, f"http://127.0.0.1:{llm_port}", tasks, concurrency, within, service)
                )


async def _drive(
    api: str,
    llm: str,
    tasks: int,
    concurrency: int,
    within: float,
    service: subprocess.Popen[bytes],
) -> LoadResult:
    run_id = uuid.uuid4().hex[:8]
    limits = httpx.Limits(max_connections=concurrency + 10)
    async with httpx.AsyncClient(base_url=api, timeout=within, limits=limits) as http:
        await _wait_ready(http, service)
        result = LoadResult(tasks, Run(concurrency))
        tool = {
            "name": "get_weather",
            "description": "Get current weather for a location",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
            "type": "http",
            "config": {"endpoint": f"{llm}/weather"},
        }

        async def task(i: int) -> None:
            query = f"weather in city {i}"
            body = {"task_id": f"load-{run_id}-{i}", "user_message": query,
                    "model_config": MODEL, "tools": [tool]}  # fmt: skip
            try:
                response = await http.post("/api/v1/execute?wait=true", json=body)
                _check(response, query)
            except Exception as exc:
                result.errors.append(f"task {i}: {exc}")
                raise
            result.checked += 1

        try:
            result.run = await asyncio.wait_for(load(task, tasks, concurrency), within)
        except TimeoutError:
            result.errors.append(f"the run did not finish within {within:.0f} s")
            result.run.failures = tasks - result.checked
        result.lost = await _not_completed(http, [f"load-{run_id}-{i}" for i in range(tasks)])
    return result


def _check(response: httpx.Response, query: str) -> None:
    """Raise unless the task completed with its own tool call's answer."""
    task = response.json()
    if response.status_code != 200 or task.get("status") != "completed":
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:200]}")
    content = (task.get("result") or {}).get("content") or ""
    if not content.startswith(TOOL_RESULT):
        raise AssertionError(f"unexpected answer {content[:200]!r}")
    answer = json.loads(content.removeprefix(TOOL_RESULT))
    if answer != {"weather": "sunny", "query": query}:
        raise AssertionError(f"answer for another call: {answer!r}, asked {query!r}")


async def _not_completed(http: httpx.AsyncClient, task_ids: list[str]) -> list[str]:
    """The tasks that are not recorded as completed (read back one by one, 50 at a time)."""
    gate = asyncio.Semaphore(50)

    async def completed(task_id: str) -> bool:
        async with gate:
            with contextlib.suppress(httpx.HTTPError):
                response = await http.get(f"/api/v1/tasks/{task_id}")
                return response.status_code == 200 and response.json()["status"] == "completed"
            return False

    done = await asyncio.gather(*(completed(t) for t in task_ids))
    return [t for t, ok in zip(task_ids, done, strict=True) if not ok]


async def _wait_ready(http: httpx.AsyncClient, service: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise RuntimeError(f"temporal-executor dev exited with code {service.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("temporal-executor dev was not ready within 120 s")


def _config(work: Path, llm: str) -> tuple[Path, str]:
    """The dev config of the run (all on 127.0.0.1, SQLite in `work`) and its API URL."""
    api_port = free_port()
    data = {
        "temporal": {"host_port": f"127.0.0.1:{free_port()}", "ui_port": free_port()},
        "llm": {
            "providers": [
                {"name": "openai", "api_key_env": KEY_ENV, "config": {"base_url": f"{llm}/v1"}}
            ]
        },
        "tools": {"allow_private_hosts": ["127.0.0.0/8"]},
        "events": {"url": f"sqlite:///{work / 'events.db'}"},
        "server": {"host": "127.0.0.1", "port": api_port, "api_keys_env": None},
        "state_dir": str(work / "state"),
        # No metrics listener: its default port may be taken on a shared machine.
        "observability": {"metrics_port": None},
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path, f"http://127.0.0.1:{api_port}"


@contextlib.contextmanager
def _process(
    name: str, argv: list[str], work: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child with its output in `work/<name>.log`, stopped (SIGTERM, then SIGKILL) at the
    end; its log's tail is printed should the block fail."""
    log = work / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    try:
        yield process
    except BaseException:
        tail = log.read_text(errors="replace")[-2000:]
        print(f"--- the end of {name}'s log:\n{tail}", file=sys.stderr)
        raise
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
