"""The service as real processes (`temporal-executor worker` / `serve`), for tests that kill
them or give them different environments."""

from __future__ import annotations

import asyncio
import os
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
) -> Iterator[subprocess.Popen[bytes]]:
    """`temporal-executor --config CONFIG [OPTIONS] COMMAND` with its output in `log`;
    stopped (and killed if it does not stop) when the block ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
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


async def wait_healthy(url: str, within: float = 90.0) -> None:
    """Until `url/healthz` answers 200, for about `within` seconds (a busy machine starts
    the API slowly)."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"API at {url} did not come up")
