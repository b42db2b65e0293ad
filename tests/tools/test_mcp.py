"""McpTool against real MCP servers: the test server (`tests/fakes/mcp_servers.py`, written with
the SDK's `MCPServer`) over stdio and streamable HTTP, and `mcp-server-time` from PyPI over
stdio. No mocks: processes are started, crash, hang and get killed for real."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from temporal_executor.config import HttpToolConfig, ToolsConfig
from temporal_executor.errors import ConfigError, ToolError, ToolSpecError
from temporal_executor.llm import ToolCall
from temporal_executor.tools import ToolFile, ToolOutput, ToolRegistry, ToolSpec
from temporal_executor.tools.mcp import McpTool
from temporal_executor.tools.sandbox import process_alive
from tests.fakes.mcp_process import SERVER, McpHttpProcess
from tests.fakes.samples import PNG

TIME_SERVER = str(Path(sys.executable).with_name("mcp-server-time"))
SECRET = "TE_SECRET"


def stdio(*extra: str, **config: Any) -> dict[str, Any]:
    """A stdio entry running the test server; `python -P` keeps tests/fakes off sys.path."""
    return {"command": sys.executable, "args": ["-P", SERVER, "stdio", *extra], **config}


def spec(tool: str | None, server: str = "t", name: str | None = None) -> ToolSpec:
    config = {"server": server} if tool is None else {"server": server, "tool": tool}
    return ToolSpec(name=name or tool or server, type="mcp", config=config)


async def output(mcp: McpTool, tool: str, server: str = "t", **arguments: Any) -> ToolOutput:
    return await mcp.call(
        spec(tool, server), ToolCall(id=uuid.uuid4().hex, name=tool, arguments=arguments)
    )


async def call(mcp: McpTool, tool: str, server: str = "t", **arguments: Any) -> str:
    return (await output(mcp, tool, server, **arguments)).text


async def info(mcp: McpTool, server: str = "t") -> dict[str, Any]:
    result: dict[str, Any] = json.loads(await call(mcp, "info", server))
    return result


def slow_records(path: Path) -> list[dict[str, Any]]:
    """What the `slow` tool recorded: label, pid, start and end of each finished call."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def exists(path: str) -> bool:
    return Path(path).exists()


def vm_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmPeak")


async def wait_dead(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def slow_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp") / "slow.jsonl"


@pytest.fixture(scope="module")
async def mcp(slow_log: Path) -> AsyncIterator[McpTool]:
    """One tool for the module, as a worker has: the test server, a limited copy of it, and
    mcp-server-time."""
    os.environ[SECRET] = "hunter2"  # in the worker's environment, must not reach servers
    settings = ToolsConfig(
        mcp_servers={
            "t": stdio(
                env={"TE_MCP_SLOW_LOG": str(slow_log), "TE_VISIBLE": "yes"},
                call_timeout="2s",
                health_check_after="200ms",
            ),
            "limited": stdio(
                limits={"cpu_seconds": 3, "memory_mb": 400, "open_files": 64},
                call_timeout="20s",
            ),
            "time": {"transport": "stdio", "command": TIME_SERVER, "args": []},
        }
    )
    tool = McpTool(settings)
    yield tool
    await tool.aclose()
    os.environ.pop(SECRET, None)


# --- listing and calling -------------------------------------------------------------------


async def test_a_whole_server_expands_to_its_tools_with_schemas(mcp: McpTool) -> None:
    whole = spec(None, "t", name="test")
    assert mcp.expands(whole)
    specs = await mcp.expand(whole)
    by_name = {s.name: s for s in specs}
    assert {"test_echo", "test_add", "test_slow", "test_crash"} <= set(by_name)
    echo = by_name["test_echo"]
    assert echo.type == "mcp"
    assert echo.config == {"server": "t", "tool": "echo"}
    assert echo.description == "Return the text unchanged."
    assert echo.parameters["properties"]["text"]["type"] == "string"
    assert echo.parameters["required"] == ["text"]
    # Side effects unless the spec says read_only (a fork's steps show it); its tools inherit it.
    assert mcp.side_effects(echo) and not any(s.read_only for s in specs)
    kept = await mcp.expand(whole.model_copy(update={"read_only": True}))
    assert all(s.read_only and not mcp.side_effects(s) for s in kept)


async def test_a_filter_keeps_the_tools_it_names_under_bare_names(mcp: McpTool) -> None:
    """As kagent offers an MCP server's tools: only those its `tools` list names, under their
    own names (no `<spec>_` prefix), in the server's order; a name the server lacks is an
    error that lists what it has."""
    config = {"server": "t", "tool_filter": ["add", "echo"], "bare_names": True}
    filtered = ToolSpec(name="kagent_http_0", type="mcp", config=config)
    assert mcp.expands(filtered)
    specs = await mcp.expand(filtered)
    assert [s.name for s in specs] == ["echo", "add"]
    assert specs[0].config == {"server": "t", "tool": "echo"}
    assert specs[0].parameters["required"] == ["text"]

    prefixed = ToolSpec(name="docs", type="mcp", config={"server": "t", "tool_filter": ["add"]})
    assert [s.name for s in await mcp.expand(prefixed)] == ["docs_add"]

    missing = ToolSpec(name="x", type="mcp", config={"server": "t", "tool_filter": ["nope"]})
    with pytest.raises(ToolSpecError, match=r"has no tool 'nope' \(it has: echo, add, "):
        await mcp.expand(missing)


async def test_a_named_tool_without_parameters_gets_its_schema(mcp: McpTool) -> None:
    named = spec("add", name="plus")
    assert mcp.expands(named)
    [expanded] = await mcp.expand(named)
    assert expanded.name == "plus"
    assert set(expanded.parameters["required"]) == {"a", "b"}
    assert expanded.description == "Add two numbers."
    given = named.model_copy(update={"parameters": expanded.parameters})
    assert not mcp.expands(given)

    with pytest.raises(ToolSpecError, match="has no tool 'nope'"):
        await mcp.expand(spec("nope"))


async def test_results_are_converted_to_text(mcp: McpTool) -> None:
    assert await call(mcp, "echo", text="héllo") == "héllo"
    assert await call(mcp, "add", a=1, b=2.5) == "3.5"
    # JSON text is compacted; an image becomes a placeholder.
    assert await call(mcp, "info") == json.dumps(await info(mcp), separators=(",", ":"))
    assert await call(mcp, "image") == "a pixel\n[image: image/png, 67 bytes]"


async def test_images_files_links_and_structured_content_are_files_of_the_output(
    mcp: McpTool,
) -> None:
    image = await output(mcp, "image")
    assert image.files == [ToolFile("image/png", content=PNG, to_model=True)]

    made = await output(mcp, "file", name="report.pdf", media_type="application/pdf", text="%PDF")
    assert made.text == "made report.pdf\n[resource: file:///report.pdf, application/pdf, 4 bytes]"
    assert made.files == [ToolFile("application/pdf", "report.pdf", content=b"%PDF", to_model=True)]
    # A file the model cannot read is the task's only.
    archive = await output(mcp, "file", name="a.zip", media_type="application/zip", text="PK")
    assert archive.files == [ToolFile("application/zip", "a.zip", content=b"PK")]

    url = "https://example.com/files/out.txt"
    linked = await output(mcp, "link", url=url, name="out.txt", media_type="text/plain")
    assert linked.files == [ToolFile("text/plain", "out.txt", url=url)]
    # A link to what is no http(s) URL stays text.
    local = await output(
        mcp, "link", url="file:///etc/hosts", name="hosts", media_type="text/plain"
    )
    assert (local.text, local.files) == ("[resource link: file:///etc/hosts hosts]", [])

    value = {"key": "value", "count": 42}
    structured = await output(mcp, "data", value=value)
    assert structured.text == '{"key":"value","count":42}'
    assert structured.files == [ToolFile("application/json", data=value)]


async def test_output_is_capped(slow_log: Path) -> None:
    settings = ToolsConfig(mcp_servers={"t": stdio()}, http=HttpToolConfig(max_response_bytes=1000))
    tool = McpTool(settings)
    try:
        text = await call(tool, "big_output", kib=64)
    finally:
        await tool.aclose()
    assert text.startswith("y" * 1000)
    assert text.endswith(f"[output truncated: {64 * 1024 - 1000} more bytes]")


async def test_is_error_results_and_protocol_errors_are_tool_errors(mcp: McpTool) -> None:
    with pytest.raises(ToolError, match="it went wrong") as failed:
        await call(mcp, "fail")
    assert not failed.value.retryable
    with pytest.raises(ToolError, match=r"-32602.*Unknown tool: nope") as unknown:
        await call(mcp, "nope", "time")
    assert not unknown.value.retryable
    assert await call(mcp, "echo", text="still fine") == "still fine"


async def test_mcp_server_time_over_stdio(mcp: McpTool) -> None:
    specs = await mcp.expand(spec(None, "time"))
    assert {s.name for s in specs} == {"time_get_current_time", "time_convert_time"}
    result = json.loads(await call(mcp, "get_current_time", "time", timezone="Asia/Tokyo"))
    assert result["timezone"] == "Asia/Tokyo"
    assert result["datetime"].endswith("+09:00")
    with pytest.raises(ToolError, match="Invalid timezone"):
        await call(mcp, "get_current_time", "time", timezone="Mars/Olympus")


# --- the pool ------------------------------------------------------------------------------


async def test_calls_share_one_pooled_process_and_overlap(mcp: McpTool, slow_log: Path) -> None:
    pid = (await info(mcp))["pid"]
    started = time.monotonic()
    await asyncio.gather(
        call(mcp, "slow", seconds=0.6, label="p1"), call(mcp, "slow", seconds=0.6, label="p2")
    )
    assert time.monotonic() - started < 1.1
    records = slow_records(slow_log)
    p1, p2 = (next(r for r in records if r["label"] == label) for label in ("p1", "p2"))
    assert p1["pid"] == p2["pid"] == pid
    assert p1["start"] < p2["end"] and p2["start"] < p1["end"]  # they ran at the same time
    assert (await info(mcp))["pid"] == pid


async def test_a_crash_mid_call_is_a_tool_error_and_the_next_call_works(mcp: McpTool) -> None:
    pid = (await info(mcp))["pid"]
    with pytest.raises(ToolError, match="closed the connection during tool 'crash'") as crashed:
        await call(mcp, "crash")
    assert not crashed.value.retryable
    assert await wait_dead(pid)
    assert await call(mcp, "echo", text="again") == "again"
    second = (await info(mcp))["pid"]
    assert second != pid

    # Killed between calls: the next call notices before it sends and starts afresh.
    os.kill(second, signal.SIGKILL)
    assert await wait_dead(second)
    assert await call(mcp, "echo", text="once more") == "once more"
    assert (await info(mcp))["pid"] not in (pid, second)


async def test_a_timeout_kills_the_process_group(mcp: McpTool) -> None:
    pid = (await info(mcp))["pid"]
    child = int(await call(mcp, "spawn_child"))
    assert process_alive(child)
    started = time.monotonic()
    with pytest.raises(ToolError, match="did not finish within 2s; the server was stopped"):
        await call(mcp, "slow", seconds=30)
    assert time.monotonic() - started < 3
    assert await wait_dead(pid)
    assert await wait_dead(child)  # the server's own child went with its process group
    assert (await info(mcp))["pid"] != pid


async def test_a_hung_server_fails_its_health_check_and_is_replaced(mcp: McpTool) -> None:
    pid = (await info(mcp))["pid"]
    os.kill(pid, signal.SIGSTOP)  # alive, but answers nothing
    await asyncio.sleep(0.3)  # idle longer than health_check_after
    assert await call(mcp, "echo", text="hello") == "hello"
    assert await wait_dead(pid)
    assert (await info(mcp))["pid"] != pid


async def test_a_cancelled_call_keeps_the_session(mcp: McpTool, slow_log: Path) -> None:
    pid = (await info(mcp))["pid"]
    task = asyncio.create_task(call(mcp, "slow", seconds=1.0, label="cancelled"))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(1.0)
    # The server stopped the call too (MCP's notifications/cancelled).
    assert not any(r["label"] == "cancelled" for r in slow_records(slow_log))
    assert (await info(mcp))["pid"] == pid


async def test_close_stops_every_server(slow_log: Path) -> None:
    tool = McpTool(ToolsConfig(mcp_servers={"t": stdio()}))
    facts = await info(tool)
    child = int(await call(tool, "spawn_child"))
    await tool.aclose()
    assert await wait_dead(facts["pid"])
    assert await wait_dead(child)
    assert not exists(facts["cwd"])  # the private working directory is gone


# --- the sandbox ---------------------------------------------------------------------------


async def test_the_server_sees_only_its_configured_environment(mcp: McpTool) -> None:
    assert os.environ[SECRET]
    names = set((await call(mcp, "env_dump")).splitlines())
    assert SECRET not in names
    assert names == {"HOME", "LANG", "PATH", "TE_MCP_SLOW_LOG", "TE_VISIBLE"}


async def test_the_server_runs_in_a_private_directory_and_process_group(mcp: McpTool) -> None:
    facts = await info(mcp)
    assert facts["pgid"] == facts["pid"] != os.getpgid(0)
    assert Path(facts["cwd"]).name == "cwd"
    assert Path(facts["cwd"]).parent.name.startswith("te-mcp-t-")


async def test_memory_and_cpu_limits_stop_a_runaway_server(mcp: McpTool) -> None:
    pid = (await info(mcp, "limited"))["pid"]
    with pytest.raises(ToolError, match="hog_memory"):
        await call(mcp, "hog_memory", "limited", mb=800)
    assert vm_peak_mb(pid) < 400  # the allocation was refused, not made
    started = time.monotonic()
    with pytest.raises(ToolError, match="closed the connection during tool 'spin_cpu'"):
        await call(mcp, "spin_cpu", "limited", seconds=60)
    assert time.monotonic() - started < 10  # killed by RLIMIT_CPU, long before call_timeout
    assert await wait_dead(pid)


async def test_a_command_that_cannot_start(tmp_path: Path) -> None:
    pid_file = tmp_path / "hung.pid"
    tool = McpTool(
        ToolsConfig(
            mcp_servers={
                "missing": {"command": str(tmp_path / "no-such-program")},
                "hung": {
                    "command": "sh",
                    "args": ["-c", f"echo $$ > {pid_file}; exec sleep 60"],
                    "startup_timeout": "500ms",
                },
            }
        )
    )
    try:
        with pytest.raises(ToolError, match="exited during start-up") as missing:
            await call(tool, "echo", "missing")
        assert not missing.value.retryable
        with pytest.raises(ToolError, match=r"did not start within 0\.5s") as hung:
            await call(tool, "echo", "hung")
        assert hung.value.retryable
        assert await wait_dead(int(pid_file.read_text()))
    finally:
        await tool.aclose()


# --- streamable HTTP -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server() -> Iterator[McpHttpProcess]:
    server = McpHttpProcess()
    server.start()
    yield server
    server.stop()


async def test_streamable_http_list_call_and_reconnect(http_server: McpHttpProcess) -> None:
    settings = ToolsConfig(
        allow_private_hosts=["127.0.0.0/8"],
        mcp_servers={"web": {"transport": "streamable_http", "url": http_server.url}},
    )
    tool = McpTool(settings)
    try:
        specs = await tool.expand(spec(None, "web"))
        assert "web_echo" in {s.name for s in specs}
        assert await call(tool, "echo", "web", text="over http") == "over http"
        with pytest.raises(ToolError, match="it went wrong"):
            await call(tool, "fail", "web")
        first = await info(tool, "web")
        assert (await info(tool, "web"))["pid"] == first["pid"]

        # The server process dies mid-call: a tool error, then a new session once it is back.
        with pytest.raises(ToolError, match="closed the connection during tool 'crash'"):
            await call(tool, "crash", "web")
        with pytest.raises(ToolError, match="cannot connect to MCP server 'web'") as down:
            await call(tool, "echo", "web", text="anyone?")
        assert down.value.retryable  # Temporal tries again; by then the server may be back
        http_server.stop()
        http_server.start()
        assert await call(tool, "echo", "web", text="back") == "back"
        assert (await info(tool, "web"))["pid"] != first["pid"]
    finally:
        await tool.aclose()


async def test_http_and_sse_servers_get_their_configured_headers(
    http_server: McpHttpProcess,
) -> None:
    """Configured headers reach the server on every request, over streamable HTTP and over
    HTTP+SSE (MCP's older transport, which kagent's `sse_tools` use)."""
    sse_server = McpHttpProcess("sse")
    sse_server.start()
    headers = {"X-Team": "docs", "Authorization": "Bearer t0ken"}
    settings = ToolsConfig(
        allow_private_hosts=["127.0.0.0/8"],
        mcp_servers={
            "web": {"url": http_server.url, "headers": headers},
            "old": {"transport": "sse", "url": sse_server.url, "headers": headers},
        },
    )
    tool = McpTool(settings)
    try:
        for server in ("web", "old"):
            seen = json.loads(await call(tool, "request_headers", server))
            assert seen["x-team"] == "docs" and seen["authorization"] == "Bearer t0ken"
        assert await call(tool, "echo", "old", text="over sse") == "over sse"
        specs = await tool.expand(spec(None, "old"))
        assert "old_echo" in {s.name for s in specs}
    finally:
        await tool.aclose()
        sse_server.stop()


async def test_the_address_guard_applies_to_mcp_urls(http_server: McpHttpProcess) -> None:
    settings = ToolsConfig(mcp_servers={"web": {"url": http_server.url}})
    tool = McpTool(settings)
    try:
        with pytest.raises(ToolError, match=r"refusing to call 127\.0\.0\.1: loopback") as refused:
            await call(tool, "echo", "web", text="x")
        assert not refused.value.retryable
    finally:
        await tool.aclose()


# --- config and specs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"command": ""}, "tools.mcp_servers.bad.command"),
        (
            {"command": "x", "limits": {"memory_mb": "lots"}},
            "tools.mcp_servers.bad.limits.memory_mb",
        ),
        ({"command": "x", "cwd": "relative"}, "tools.mcp_servers.bad.cwd"),
        ({"command": "x", "shell": True}, "tools.mcp_servers.bad.shell: unknown key"),
        ({"transport": "websocket", "url": "ws://x"}, "tools.mcp_servers.bad.transport"),
        ({"transport": "sse", "url": "ftp://x/sse"}, "tools.mcp_servers.bad.url"),
        ({"url": "file:///etc/passwd"}, "tools.mcp_servers.bad.url"),
        ({"url": "https://x/mcp", "call_timeout": "never"}, "tools.mcp_servers.bad.call_timeout"),
        ({"url": "https://x/mcp", "headers": {"Host": "y"}}, "tools.mcp_servers.bad.headers"),
        ({"args": ["x"]}, "tools.mcp_servers.bad: give a command"),
    ],
)
def test_a_bad_server_entry_is_a_config_error_naming_the_key(
    entry: dict[str, Any], key: str
) -> None:
    settings = ToolsConfig(mcp_servers={"bad": entry})
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        ToolRegistry(settings)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "config.server is required"),
        ({"server": "nowhere"}, "unknown MCP server 'nowhere' \\(configured: t\\)"),
        ({"server": "t", "tool": 5}, "config.tool must be"),
        ({"server": "t", "tools": ["echo"]}, "unknown config key 'tools'"),
        ({"server": "t", "tool": "echo", "bare_names": True}, "apply to a whole server"),
        ({"server": "t", "tool_filter": [""]}, "config.tool_filter.0 must be"),
    ],
)
def test_bad_specs_are_refused_at_submission(config: dict[str, Any], message: str) -> None:
    registry = ToolRegistry(ToolsConfig(mcp_servers={"t": stdio()}))
    with pytest.raises(ToolSpecError, match=message):
        registry.validate([ToolSpec(name="x", type="mcp", config=config)])
