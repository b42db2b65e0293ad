"""What every benchmark uses: free ports, processes it starts and measures (CPU, RSS), a tuned
Temporal dev server. The load runner and percentiles are `temporal_executor.loadtest.runner`
(shared with `temporal-executor load`). Everything runs on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from temporal_executor.devserver import DEV_TUNING, find_temporal_cli
from temporal_executor.loadtest.runner import Run

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    """A child process with its log; `cpu()` and `rss()` read /proc."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        """CPU seconds (user + system) used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss(self) -> int:
        """Resident memory in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def spawn(
    name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None
) -> Iterator[Proc]:
    """Start `argv` with its output in `workdir/<name>.log`; stopped when the block ends.
    Python caches bytecode as an installed package does (`PYTHONDONTWRITEBYTECODE` is
    dropped): the workflow sandbox imports the workflow's module for every workflow it runs."""
    log = workdir / f"{name}.log"
    environment = {**os.environ, **(env or {})}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment
        )
    proc = Proc(name, process, log)
    try:
        yield proc
    finally:
        proc.stop()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


@contextlib.contextmanager
def temporal_server(workdir: Path, *, sqlite: bool = True) -> Iterator[tuple[str, Proc]]:
    """The Temporal dev server, tuned as `temporal-executor dev` runs it: a SQLite file in WAL
    mode (`sqlite`) or in memory. Yields its `host:port`."""
    port = free_port()
    argv = [
        find_temporal_cli(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
        "--port", str(port), "--log-level", "warn", *DEV_TUNING,
    ]  # fmt: skip
    if sqlite:
        argv += ["--db-filename", str(workdir / "temporal.db")]
    with spawn("temporal", argv, workdir) as proc:
        wait_port(port, proc)
        yield f"127.0.0.1:{port}", proc


def wait_port(port: int, proc: Proc, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited; see {proc.log}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.name} did not listen on {port} within {within:.0f}s")


async def wait_http(url: str, proc: Proc, within: float = 60) -> float:
    """Wait until `url` answers 200; the seconds it took."""
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() - start < within:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited; see {proc.log}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return time.monotonic() - start
            await asyncio.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {within:.0f}s; see {proc.log}")


def merged(runs: list[Run]) -> Run:
    """Several runs at one concurrency as one: all their calls, their summed wall time."""
    run = Run(runs[0].concurrency)
    for each in runs:
        run.latencies += each.latencies
        run.elapsed += each.elapsed
        run.failures += each.failures
    return run


@contextlib.asynccontextmanager
async def measured(*procs: Proc) -> AsyncIterator[dict[str, float]]:
    """CPU seconds the processes use inside the block (filled in at its end)."""
    before = sum(p.cpu() for p in procs)
    used: dict[str, float] = {}
    yield used
    used["cpu_s"] = sum(p.cpu() for p in procs) - before


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
