"""The service as real processes (`temporal-executor worker` / `serve`), for tests that kill
them or give them different environments."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def service_process(
    config_path: Path,
    log: Path,
    command: str,
    *,
    env: dict[str, str] | None = None,
    options: Sequence[str] = (),
    python: str | Path = sys.executable,
    process_group: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """`temporal-executor --config CONFIG [OPTIONS] COMMAND` with its output in `log`;
    stopped (and killed if it does not stop) when the block ends. `python`: the interpreter
    (another release's venv; default this one's). `process_group`: in a process group of its
    own (`os.killpg(process.pid, …)` then stops it with its children, as `dev`'s Temporal
    server), whose survivors are killed when the block ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                str(python),
                "-m",
                "temporal_executor",
                "--config",
                str(config_path),
                *options,
                command,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ) if env is None else env,
            start_new_session=process_group,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process_group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


async def wait_healthy(
    url: str, within: float = 90.0, *, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Until `url/healthz` answers 200, for about `within` seconds (a busy machine starts
    the API slowly); at once should `process` (the API's) exit meanwhile."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"API for {url} exited with code {process.returncode}")
            try:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"API at {url} did not come up")
