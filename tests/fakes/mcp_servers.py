"""A real MCP server for tests, written with the MCP SDK's own server API (`MCPServer`).

    python -m tests.fakes.mcp_servers stdio               # over stdin/stdout
    python -m tests.fakes.mcp_servers http --port 8765    # streamable HTTP on 127.0.0.1
    python -m tests.fakes.mcp_servers sse --port 8765     # HTTP+SSE (GET /sse, POST /messages/)
    python -m tests.fakes.mcp_servers garbage             # answers every line with garbage

Tests run it by path with `python -P` (so the sandbox's private working directory needs no
`tests` package on the path and `tests/fakes/*.py` never shadow real modules).

Tools: `echo`, `add` (structured output), `slow` (records start and end in the file named by
`TE_MCP_SLOW_LOG`, one JSON line per call, so overlapping calls can be shown), `crash` (exits
mid-call), `fail` (an `isError` result), `hog_memory`, `spin_cpu`, `env_dump` (the names in its
environment), `info` (pid, process group, working directory), `spawn_child` (a grandchild in
the same process group), `image`, `big_output`, `request_headers` (the HTTP headers of the
call, names lower-case); and what becomes a task's artifacts: `file` (an embedded blob
resource), `link` (a resource link) and `data` (structured content only).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import os
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp_types import BlobResourceContents, CallToolResult, EmbeddedResource, ResourceLink

SLOW_LOG_ENV = "TE_MCP_SLOW_LOG"


def _samples() -> ModuleType:
    """`samples.py` beside this file, loaded by its path: the server runs with `python -P`
    (no `tests` package), and tests import `samples` rather than this module (building an
    `MCPServer` in a test process changes how it connects, see `samples.py`)."""
    path = Path(__file__).with_name("samples.py")
    spec = importlib.util.spec_from_file_location("_mcp_server_samples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PNG: bytes = _samples().PNG


server = MCPServer("te-test-server")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
async def slow(seconds: float, label: str = "") -> str:
    """Sleep, recording start and end times."""
    start = time.time()
    await asyncio.sleep(seconds)
    _record({"label": label, "pid": os.getpid(), "start": start, "end": time.time()})
    return f"slept {seconds}s {label}".strip()


def _record(record: dict[str, object]) -> None:
    log = os.environ.get(SLOW_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")


@server.tool()
async def crash() -> str:
    """Exit the whole server process in the middle of the call."""
    await asyncio.sleep(0.1)
    os._exit(3)


@server.tool()
def fail(message: str = "it went wrong") -> str:
    """Fail with an isError result."""
    raise ToolError(message)


@server.tool()
def hog_memory(mb: int) -> str:
    """Allocate (and touch) `mb` MiB."""
    chunks = [bytearray(b"x" * (1 << 20)) for _ in range(mb)]
    return f"allocated {len(chunks)} MiB"


@server.tool()
def spin_cpu(seconds: float) -> str:
    """Burn CPU for `seconds` of wall-clock time."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
    return f"spun {n} times"


@server.tool()
def env_dump() -> list[str]:
    """The names of the variables in this process's environment."""
    return sorted(os.environ)


@server.tool()
def info() -> dict[str, object]:
    """This process: pid, process group and working directory."""
    return {"pid": os.getpid(), "pgid": os.getpgid(0), "cwd": os.getcwd()}


@server.tool()
def spawn_child() -> int:
    """Start a long `sleep` in this server's process group and return its pid."""
    child = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL)
    return child.pid


@server.tool(structured_output=False)
def image() -> list[object]:
    """A caption and a tiny PNG."""
    return ["a pixel", Image(data=PNG, format="png")]


@server.tool(structured_output=False)
def file(name: str, media_type: str, text: str = "", base64_data: str = "") -> list[object]:
    """A file as an embedded resource (`file:///<name>`): `text`, or `base64_data` decoded."""
    blob = base64_data or base64.b64encode(text.encode()).decode()
    contents = BlobResourceContents(uri=f"file:///{name}", mime_type=media_type, blob=blob)
    return [f"made {name}", EmbeddedResource(type="resource", resource=contents)]


@server.tool(structured_output=False)
def link(url: str, name: str, media_type: str) -> list[object]:
    """A link to a file (a resource link), not its content."""
    return [ResourceLink(type="resource_link", uri=url, name=name, mime_type=media_type)]


@server.tool()
def data(value: dict[str, Any]) -> CallToolResult:
    """`value` as structured content only (no content blocks)."""
    return CallToolResult(content=[], structured_content=value)


@server.tool()
def big_output(kib: int) -> str:
    """`kib` KiB of text."""
    return "y" * (kib * 1024)


@server.tool()
def request_headers(ctx: Context) -> dict[str, str]:
    """The HTTP headers this call came with, names lower-case (none over stdio)."""
    return {name.lower(): value for name, value in (ctx.headers or {}).items()}


def answer_garbage() -> None:
    """Not a server at all: every line read from stdin gets a line that is not JSON-RPC."""
    import sys

    for _ in sys.stdin:
        sys.stdout.write("}{ this is not JSON-RPC \x00\n")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transport", choices=["stdio", "http", "sse", "garbage"])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    if args.transport == "garbage":
        answer_garbage()
    elif args.transport == "stdio":
        server.run("stdio")
    elif args.transport == "sse":
        server.run("sse", host="127.0.0.1", port=args.port)
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
