"""MCP sessions pooled per worker process and per server.

One session per configured server, opened on first use under a per-server lock and shared by
all calls (MCP multiplexes requests, so parallel tool calls overlap on one session). Before a
session is reused it is checked:
- a stdio server whose process has died, or a session whose transport has ended, is dropped;
- a session idle for longer than `health_check_after` is probed (`server/discover` on
  2026-07-28 connections, `ping` on older ones) and dropped when the probe fails.
A dropped session is closed once its last call has returned, and the next call opens a new
one. `kill()` ends a stdio server's whole process group at once (used on a call timeout).

Each session is owned by a background task from open to close: the SDK's transports and
sessions are anyio contexts, which must be entered and left in the same task.

HTTP servers (streamable HTTP and HTTP+SSE) are checked by `AddressGuard` when a session
opens, and every request of the session goes to the address that was checked (with the real
hostname in `Host` and for TLS), so a later DNS answer cannot point the session elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TextIO

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client import Transport
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Implementation
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .. import __version__
from ..errors import ToolError
from .guard import AddressGuard, Resolved
from .mcp_config import AnyServer, HttpServer, SseServer, StdioServer
from .sandbox import child_environment, kill_group, launcher_argv, process_alive, read_pid

__all__ = ["Connection", "SessionPool"]

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 5.0
CLOSE_TIMEOUT = 10.0
CLIENT_INFO = Implementation(name="temporal-executor", version=__version__)

# Builds a session's transport inside its owner task; may push clean-ups onto the stack.
TransportFactory = Callable[[AsyncExitStack], Awaitable[Transport]]


class Connection:
    """One open MCP session (and, for stdio, one server process)."""

    def __init__(self, name: str, server: AnyServer) -> None:
        self.name = name
        self.server = server
        self.pid: int | None = None
        self.pid_file: Path | None = None
        self.in_flight = 0
        self.last_used = time.monotonic()
        self.retired = False
        self._client: Client | None = None
        self._stop = asyncio.Event()
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._owner: asyncio.Task[None] | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise ToolError(f"MCP server {self.name!r}: the session is not open")
        return self._client

    async def open(self, transport: TransportFactory) -> None:
        """Connect and complete the handshake within `startup_timeout`."""
        self._owner = asyncio.create_task(self._own(transport), name=f"mcp-{self.name}")
        try:
            async with asyncio.timeout(self.server.startup_timeout):
                await asyncio.shield(self._ready)
        except BaseException:
            await self.close()
            raise

    async def _own(self, transport: TransportFactory) -> None:
        try:
            async with AsyncExitStack() as stack:
                streams = await transport(stack)
                client = Client(streams, cache=None, client_info=CLIENT_INFO)
                self._client = await stack.enter_async_context(client)
                if self.pid_file is not None:
                    # Written by the launcher before it exec'd the server, which has answered.
                    self.pid = read_pid(self.pid_file)
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                if isinstance(exc, asyncio.CancelledError):
                    self._ready.cancel()
                else:
                    self._ready.set_exception(exc)
            elif not self._stop.is_set():
                logger.info("MCP server %r: session ended: %r", self.name, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._client = None

    def usable(self) -> bool:
        """False once the session ended, or the server process died."""
        if self.retired or self._owner is None or self._owner.done() or self._client is None:
            return False
        return self.pid is None or process_alive(self.pid)

    async def probe(self) -> bool:
        """A cheap round trip: whether the server still answers."""
        try:
            client = self.client
            version = client.protocol_version
            async with asyncio.timeout(min(PROBE_TIMEOUT, self.server.call_timeout)):
                if version in MODERN_PROTOCOL_VERSIONS:
                    await client.session.send_discover(version)
                else:
                    await client.session.send_ping()
        except Exception as exc:
            logger.info("MCP server %r: health check failed: %r", self.name, exc)
            return False
        return True

    def kill(self) -> None:
        """SIGKILL the server's process group (stdio only); the session then ends."""
        kill_group(self.pid)

    async def close(self) -> None:
        """End the session: close stdin and wait (the SDK escalates to SIGTERM / SIGKILL of
        the process tree), then SIGKILL whatever is left of the process group."""
        self._stop.set()
        if self.pid is None and self.pid_file is not None:
            self.pid = read_pid(self.pid_file)
        owner = self._owner
        if owner is not None and not owner.done():
            if not self._ready.done():
                # Never came up (start-up timeout): no grace period.
                self.kill()
                owner.cancel()
            _, pending = await asyncio.wait({owner}, timeout=CLOSE_TIMEOUT)
            if pending:
                self.kill()
                owner.cancel()
                await asyncio.wait({owner}, timeout=CLOSE_TIMEOUT)
        if self._ready.done() and not self._ready.cancelled():
            self._ready.exception()  # seen (by `open`, or not needed): no warning at exit
        kill_group(self.pid)


class SessionPool:
    """The open sessions of one worker, by server name."""

    def __init__(self, servers: Mapping[str, AnyServer], guard: AddressGuard) -> None:
        self._servers = servers
        self._guard = guard
        self._connections: dict[str, Connection] = {}  # the one handed out, per server
        self._live: set[Connection] = set()  # every connection not yet closed
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._runtime: dict[str, Path] = {}

    @asynccontextmanager
    async def session(self, name: str) -> AsyncIterator[Connection]:
        """The server's pooled session, opened or re-opened when needed."""
        connection = await self._acquire(name)
        connection.in_flight += 1
        try:
            yield connection
        finally:
            connection.in_flight -= 1
            connection.last_used = time.monotonic()
            if connection.retired and connection.in_flight == 0:
                self._close_later(connection)

    def retire(self, connection: Connection, *, kill: bool = False) -> None:
        """Stop handing out `connection`; it is closed when its last call returns."""
        if kill:
            connection.kill()
        connection.retired = True
        if self._connections.get(connection.name) is connection:
            del self._connections[connection.name]
        if connection.in_flight == 0:
            self._close_later(connection)

    async def aclose(self) -> None:
        """Close every session (calls still running fail), kill every stdio server's process
        group, remove the private directories."""
        for connection in list(self._live):
            connection.retired = True
            self._close_later(connection)
        self._connections.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        for path in self._runtime.values():
            shutil.rmtree(path, ignore_errors=True)
        self._runtime.clear()

    async def _acquire(self, name: str) -> Connection:
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            connection = self._connections.get(name)
            if connection is not None and not await self._healthy(connection):
                self.retire(connection, kill=True)
                connection = None
            if connection is None:
                connection = Connection(name, self._servers[name])
                self._live.add(connection)
                try:
                    await connection.open(self._transport(connection))
                finally:
                    if not connection.usable():
                        self._live.discard(connection)
                self._connections[name] = connection
            return connection

    async def _healthy(self, connection: Connection) -> bool:
        if not connection.usable():
            return False
        idle = time.monotonic() - connection.last_used
        if connection.in_flight or idle < connection.server.health_check_after:
            return True
        return await connection.probe()

    def _close_later(self, connection: Connection) -> None:
        if connection not in self._live:
            return  # closed, or being closed, already
        self._live.discard(connection)
        task = asyncio.create_task(connection.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _transport(self, connection: Connection) -> TransportFactory:
        server = connection.server
        if not isinstance(server, StdioServer):
            return self._http_transport(server)
        runtime = self._runtime_dir(connection.name)
        pid_file = runtime / "pid"
        pid_file.unlink(missing_ok=True)
        cwd = server.cwd or runtime / "cwd"
        cwd.mkdir(exist_ok=True)
        env = child_environment(server.env)
        argv = launcher_argv(server.command, server.args, sorted(env), server.limits, pid_file)
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=cwd)

        connection.pid_file = pid_file

        async def stdio(stack: AsyncExitStack) -> Transport:
            return stdio_client(params, errlog=_errlog())

        return stdio

    def _http_transport(self, server: HttpServer | SseServer) -> TransportFactory:
        async def http(stack: AsyncExitStack) -> Transport:
            resolved = await self._guard.resolve(server.url)

            def client(
                headers: dict[str, str] | None = None,
                timeout: httpx2.Timeout | None = None,
                auth: httpx2.Auth | None = None,
            ) -> httpx2.AsyncClient:
                # An event stream may stay quiet for long: reads wait up to 5 minutes (a call
                # is bounded by `call_timeout` anyway).
                return httpx2.AsyncClient(
                    headers={**server.headers, **(headers or {})},
                    auth=auth,
                    transport=_PinnedTransport(resolved),
                    timeout=httpx2.Timeout(server.call_timeout, read=300.0),
                    trust_env=False,
                )

            if isinstance(server, SseServer):
                return sse_client(server.url, httpx_client_factory=client)
            http_client = await stack.enter_async_context(client())
            return streamable_http_client(server.url, http_client=http_client)

        return http

    def _runtime_dir(self, name: str) -> Path:
        path = self._runtime.get(name)
        if path is None:
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:32]
            path = self._runtime[name] = Path(tempfile.mkdtemp(prefix=f"te-mcp-{safe}-"))
        return path


class _PinnedTransport(httpx2.AsyncBaseTransport):
    """Sends every request of a session to the address the guard checked."""

    def __init__(self, resolved: Resolved) -> None:
        self._resolved = resolved
        self._inner = httpx2.AsyncHTTPTransport(trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url, target = request.url, self._resolved
        port = url.port or (443 if url.scheme == "https" else 80)
        if (url.scheme, url.host, port) != (target.scheme, target.host, target.port):
            raise httpx2.ConnectError(f"refusing to leave {target.host} for {url.host}")
        extensions = dict(request.extensions)
        if url.scheme == "https":
            # The ASCII (IDNA) name: what the certificate is checked against.
            extensions["sni_hostname"] = url.raw_host.decode("ascii").strip("[]").rstrip(".")
        pinned = httpx2.Request(
            request.method,
            url.copy_with(host=target.ip),
            headers=request.headers,
            stream=request.stream,
            extensions=extensions,
        )
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _errlog() -> TextIO:
    """Where a stdio server's stderr goes: the worker's stderr, which must be a real file."""
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            if stream is not None:
                stream.fileno()
                return stream
    return open(os.devnull, "w", encoding="utf-8")  # kept open for the process's life
