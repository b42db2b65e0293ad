"""The test MCP server (`mcp_servers.py`) over HTTP in a process of its own, so that a test
can crash and restart it: streamable HTTP at `/mcp`, or HTTP+SSE at `/sse`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["SERVER", "McpHttpProcess"]

SERVER = str(Path(__file__).with_name("mcp_servers.py"))


class McpHttpProcess:
    """`transport`: "http" (streamable HTTP) or "sse"; `env`: added to the server's
    environment (e.g. `TE_MCP_SLOW_LOG`)."""

    def __init__(self, transport: str = "http", env: dict[str, str] | None = None) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.transport = transport
        self.env = env or {}
        path = "/sse" if transport == "sse" else "/mcp"
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # `python -P`: tests/fakes is not on the server's path (its modules shadow nothing).
        argv = [sys.executable, "-P", SERVER, self.transport, "--port", str(self.port)]
        env = {**os.environ, **self.env}
        self.process = subprocess.Popen(argv, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the HTTP MCP server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
