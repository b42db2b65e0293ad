"""B5, start-up: `temporal-executor dev` until `/readyz` answers 200, on a fresh directory and
again on the same directory (the Temporal SQLite file and event store already there), against
the baseline of the Temporal dev server alone (tuned the same way) until its port accepts."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from .common import free_port, temporal_server, wait_http
from .systems import api_url, config, dev


def _server_start(workdir: Path) -> float:
    start = time.perf_counter()
    with temporal_server(workdir):
        return time.perf_counter() - start


async def _dev_start(workdir: Path) -> float:
    start = time.perf_counter()
    with dev(workdir, workdir / "config.yaml") as ours:
        await wait_http(api_url(workdir / "config.yaml") + "/readyz", ours.procs[0], within=120)
        return time.perf_counter() - start


async def startup(workdir: Path, repeats: int) -> dict[str, Any]:
    bare: list[float] = []
    fresh: list[float] = []
    again: list[float] = []
    for i in range(repeats):
        home = workdir / f"run{i}"
        (home / "temporal").mkdir(parents=True)
        bare.append(await asyncio.to_thread(_server_start, home / "temporal"))
        config(home, f"http://127.0.0.1:{free_port()}", "127.0.0.1:1")
        fresh.append(await _dev_start(home))
        again.append(await _dev_start(home))
    median = statistics.median
    return {
        "temporal_alone_s": round(median(bare), 2),
        "dev_fresh_s": round(median(fresh), 2),
        "dev_restart_s": round(median(again), 2),
        "ratio_fresh": round(median(fresh) / median(bare), 2),
    }
