"""Where the time goes: `python -m benchmarks.profile [--system split|dev] [--load c1|c20|streams]`.

Starts the system as the benchmarks do (B1's 1-tool REST task, or B4's 50 streams), warms it
up, then records our processes with py-spy (`pip install py-spy`; flame graphs as SVG under
`--out`, one per process) while the load runs. Under `c1` it also prints a timeline of the
median task: when, from the client's send, Temporal recorded each history event, the store
each task event, and the client had its answer. Proportions in a flame graph hold on a loaded
machine; absolute times do not."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import yaml
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from temporal_executor.loadtest.runner import load
from temporal_executor.tasks import workflow_id

from .common import Proc, temporal_server, wait_http
from .streaming import rest_stream
from .systems import MODEL, Ours, config, dev, scripted, split, weather_tool

HERE = Path(__file__).parent


@contextlib.contextmanager
def system(which: str, workdir: Path, llm: str) -> Iterator[tuple[Ours, str]]:
    """Our service (`split`: serve + worker on a tuned Temporal server; `dev`), and the
    Temporal address it uses."""
    if which == "dev":
        with dev(workdir, config(workdir, llm, "127.0.0.1:1")) as ours:
            target = yaml.safe_load((workdir / "config.yaml").read_text())["temporal"]["host_port"]
            yield ours, target
        return
    with temporal_server(workdir) as (target, _), split(workdir, config(workdir, llm, target)) as o:
        yield o, target


@contextlib.contextmanager
def spied(
    procs: list[Proc], out: Path, label: str, seconds: float, raw: bool = False
) -> Iterator[None]:
    """py-spy records each process for `seconds` into `out/<label>-<process>.svg` (with
    `raw`, its collapsed stacks into `.txt`: one line a stack, and its sample count)."""
    spy = str(Path(sys.executable).parent / "py-spy")
    # --gil: samples of a thread holding the GIL, i.e. Python at work (idle threads
    # otherwise show, waiting, as if busy); SQLite and the SDK core run without it.
    argv = [spy, "record", "-d", str(int(seconds)), "-r", "100", "--nolineno", "--gil"]
    argv += ["-f", "raw"] if raw else []
    suffix = "txt" if raw else "svg"
    running = [
        subprocess.Popen(
            [*argv, "-p", str(p.pid), "-o", str(out / f"{label}-{p.name}.{suffix}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in procs
    ]
    time.sleep(1)  # attached
    try:
        yield
    finally:
        for spy_proc in running:
            spy_proc.wait()


async def timeline(workdir: Path, target: str, sent: list[tuple[str, float, float]]) -> None:
    """The median offset (ms from the client's send) of each history and store event."""
    client = await Client.connect(target)
    offsets: dict[str, list[float]] = {}
    with contextlib.closing(sqlite3.connect(workdir / "events.db")) as db:
        for task_id, t0, t1 in sent:
            seen: dict[str, int] = {}

            def at(name: str, when: float, t0: float = t0, seen: dict[str, int] = seen) -> None:
                seen[name] = seen.get(name, 0) + 1
                offsets.setdefault(f"{name} #{seen[name]}", []).append((when - t0) * 1000)

            handle = client.get_workflow_handle(workflow_id(task_id))
            async for event in handle.fetch_history_events():
                kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
                at(f"temporal {kind}", event.event_time.ToDatetime().timestamp())
            for kind, when in db.execute(
                "SELECT type, time FROM events WHERE task_id = ? ORDER BY seq", (task_id,)
            ):
                at(f"store {kind}", when)
            at("client has the answer", t1)
    for name, values in sorted(offsets.items(), key=lambda kv: statistics.median(kv[1])):
        print(f"{statistics.median(values):8.1f} ms  {name}")


async def profile(args: argparse.Namespace, workdir: Path) -> None:
    with scripted(workdir) as llm, system(args.system, workdir, llm) as (ours, target):
        await wait_http(ours.url + "/readyz", ours.procs[0])
        body: dict[str, Any] = {"model_config": MODEL, "tools": [weather_tool(llm)]}
        sent: list[tuple[str, float, float]] = []
        async with httpx.AsyncClient(base_url=ours.url, timeout=300) as http:

            async def task(i: int) -> None:
                t0 = time.time()
                answer = await http.post(
                    "/api/v1/execute?wait=true", json={**body, "user_message": f"weather {i}"}
                )
                sent.append((answer.json()["task_id"], t0, time.time()))

            await load(task, 20, 1)
            sent.clear()
            label = f"{args.system}-{args.load}"
            spy = spied(ours.procs, args.out, label, args.seconds, args.raw)
            with contextlib.nullcontext() if args.no_spy else spy:
                deadline = time.monotonic() + args.seconds
                while time.monotonic() < deadline:
                    if args.load == "streams":
                        await asyncio.gather(*(rest_stream(http, 100) for _ in range(50)))
                    else:
                        c = 1 if args.load == "c1" else 20
                        run = await load(task, 10 * c, c)
                        print(f"{run.throughput:.1f} tasks/s, {run.summary()['p50_ms']} ms p50")
        if args.load == "c1":
            await timeline(workdir, target, sent)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("--system", choices=["split", "dev"], default="split")
    parser.add_argument("--load", choices=["c1", "c20", "streams"], default="c1")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--out", type=Path, default=HERE / "profiles")
    parser.add_argument("--raw", action="store_true", help="collapsed stacks, not SVG")
    parser.add_argument(
        "--no-spy", action="store_true", help="the load (and c1's timeline) without py-spy's cost"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with TemporaryDirectory(prefix="bench-profile-") as workdir:
        asyncio.run(profile(args, Path(workdir)))


if __name__ == "__main__":
    main()
