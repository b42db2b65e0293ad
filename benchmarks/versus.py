"""B2, against kagent-adk 0.10.4 (the Python executor we replace): the 1-tool task over A2A
`message/send` (0.3, blocking), same scripted LLM (plain, not streamed) and tool, at c=1 and
c=10; CPU per task in each system's own processes; their RSS after the same load.

kagent-adk runs from a virtualenv of its own (it needs `a2a-sdk>=0.3.23,<0.4`), made on first
use under the cache directory (PyPI is the only network it needs), in its in-memory mode (see
`kagent/app.py`), with the tool behind a small MCP server (`kagent/weather_mcp.py`), as it
takes tools only from MCP. Ours runs as `serve` + `worker` with Temporal in memory, and as
`dev` (its own Temporal server on a SQLite file)."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from temporal_executor.loadtest.runner import load

from .common import free_port, merged, spawn, temporal_server, wait_http, wait_port
from .systems import Ours, a2a_task, config, dev, scripted, split

KAGENT = ["kagent-adk==0.10.4", "a2a-sdk>=0.3.23,<0.4", "uvicorn", "mcp<2", "httpx"]
HERE = Path(__file__).parent / "kagent"


def kagent_python(cache: Path) -> Path:
    """The interpreter of a virtualenv with kagent-adk, made once (a few minutes)."""
    venv = cache / "kagent-adk-0.10.4"
    cache.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        with (cache / "kagent-adk-install.log").open("ab") as log:
            # pip < 24 takes no pre-release to meet `>=0.52.0`, and kagent-core's OpenTelemetry
            # instrumentation exists only as `0.5xb0`
            for args in (["-U", "pip"], KAGENT):
                subprocess.run([*pip, *args], check=True, stdout=log, stderr=subprocess.STDOUT)
        (venv / ".installed").touch()
    return python


@contextlib.contextmanager
def kagent(workdir: Path, python: Path, scripted_url: str) -> Iterator[Ours]:
    mcp_port, port = free_port(), free_port()
    mcp = [str(python), str(HERE / "weather_mcp.py"), "--port", str(mcp_port)]
    app = [str(python), str(HERE / "app.py"), "--port", str(port)]
    with spawn("kagent-mcp", [*mcp, "--tool-url", f"{scripted_url}/weather"], workdir) as tool:
        wait_port(mcp_port, tool)
        argv = [
            *app,
            "--llm-url",
            f"{scripted_url}/v1",
            "--mcp-url",
            f"http://127.0.0.1:{mcp_port}/mcp",
        ]
        with spawn("kagent", argv, workdir) as proc:
            yield Ours(f"http://127.0.0.1:{port}", [proc])


async def _system(name: str, system: Ours, path: str) -> dict[str, Any]:
    await wait_http(system.url + "/.well-known/agent-card.json", system.procs[0])
    return {"name": name, "system": system, "path": path, "cpu": {}, "runs": {}}


async def versus(
    workdir: Path, cache: Path | None, levels: dict[int, int], rounds: int, warmup: int
) -> dict[str, Any]:
    """All systems up at once, taking turns round by round at each concurrency (`levels`:
    concurrency → calls a round), so the machine's drift weighs on each alike: throughput,
    latency and CPU a task of each, the median of the rounds' throughput ratios against
    kagent-adk (unless `cache` is None: then kagent-adk is left out), RSS at the end."""
    with contextlib.ExitStack() as stack:
        llm = stack.enter_context(scripted(workdir))
        systems = []
        if cache is not None:
            one = stack.enter_context(kagent(workdir, kagent_python(cache), llm))
            systems.append(await _system("kagent-adk", one, "/"))
        home = workdir / "memory"
        home.mkdir()
        target, _ = stack.enter_context(temporal_server(home, sqlite=False))
        one = stack.enter_context(split(home, config(home, llm, target)))
        systems.append(await _system("ours, serve+worker, Temporal in memory", one, "/a2a"))
        home = workdir / "dev"
        home.mkdir()
        one = stack.enter_context(dev(home, config(home, llm, "127.0.0.1:1")))
        systems.append(await _system("ours, dev (SQLite)", one, "/a2a"))
        async with httpx.AsyncClient(timeout=300) as http:

            def task(each: dict[str, Any]) -> Callable[[int], Awaitable[None]]:
                url = each["system"].url + each["path"]
                return lambda i: a2a_task(http, url, f"weather in city {i}")

            for each in systems:
                await load(task(each), warmup, 1)
            ratios: dict[str, dict[str, list[float]]] = {e["name"]: {} for e in systems}
            for concurrency, calls in levels.items():
                for _ in range(rounds):
                    base = None
                    for each in systems:
                        procs = each["system"].procs
                        before = sum(p.cpu() for p in procs)
                        run = await load(task(each), calls, concurrency)
                        used = sum(p.cpu() for p in procs) - before
                        each["cpu"][concurrency] = each["cpu"].get(concurrency, 0.0) + used
                        each["runs"].setdefault(concurrency, []).append(run)
                        base = base or run.throughput
                        ratio = run.throughput / base if base else float("nan")
                        ratios[each["name"]].setdefault(str(concurrency), []).append(ratio)
        results: dict[str, Any] = {}
        for each in systems:
            runs = []
            for concurrency, level in each["runs"].items():
                cpu = each["cpu"][concurrency] / sum(len(r.latencies) + r.failures for r in level)
                runs.append({**merged(level).summary(), "cpu_ms_per_task": round(cpu * 1000, 1)})
            rss = sum(p.rss() for p in each["system"].procs)
            median = {c: round(statistics.median(v), 2) for c, v in ratios[each["name"]].items()}
            results[each["name"]] = {
                "runs": runs,
                "rss_mb": round(rss / 2**20, 1),
                "tasks": warmup + rounds * sum(levels.values()),
                **({"ratio_vs_kagent": median} if cache is not None else {}),
            }
    return results
