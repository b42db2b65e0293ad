"""HttpTool against a real local server (Starlette on uvicorn, 127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from temporal_executor.config import HttpToolConfig, ToolsConfig
from temporal_executor.errors import ToolError, ToolSpecError
from temporal_executor.llm import ToolCall
from temporal_executor.tools import ToolFile, ToolOutput, ToolSpec
from temporal_executor.tools.http import HttpTool
from tests.fakes.samples import PNG
from tests.fakes.server import FakeServer

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


# --- the tool server -----------------------------------------------------------------------


async def echo(request: Request) -> Response:
    raw = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": dict(request.headers),
            "body": json.loads(raw) if raw else None,
        }
    )


async def redirect(request: Request) -> Response:
    status = int(request.query_params.get("status", "302"))
    return RedirectResponse(request.query_params["to"], status_code=status)


async def redirect_other(request: Request) -> Response:
    return RedirectResponse(f"http://localhost:{request.url.port}/echo", status_code=302)


async def redirect_loop(request: Request) -> Response:
    return RedirectResponse("/loop", status_code=302)


async def big(request: Request) -> Response:
    size = int(request.query_params["n"])

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, size, 100):
            yield b"x" * min(100, size - start)

    return StreamingResponse(chunks(), media_type="text/plain")


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return PlainTextResponse(f"boom {code}\n" + "detail " * 100, status_code=code)


async def slow(request: Request) -> Response:
    await asyncio.sleep(1)
    return PlainTextResponse("late")


async def drip(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"."
            await asyncio.sleep(0.05)

    return StreamingResponse(chunks(), media_type="text/plain")


async def latin1(request: Request) -> Response:
    return Response("café".encode("latin-1"), media_type="text/plain; charset=iso-8859-1")


async def pretty(request: Request) -> Response:
    return Response('{\n  "a": 1,\n  "b": ["é", 2]\n}\n', media_type="application/json")


async def binary(request: Request) -> Response:
    """A PNG, a PDF named by Content-Disposition, or bytes of no stated type."""
    kind = request.path_params["kind"]
    if kind == "chart.png":
        return Response(PNG, media_type="image/png")
    if kind == "report":
        disposition = 'attachment; filename="../q3 report.pdf"'
        return Response(
            b"%PDF-1.4", media_type="application/pdf", headers={"Content-Disposition": disposition}
        )
    return Response(b"plain", headers={"Content-Type": ""})


async def empty(request: Request) -> Response:
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/echo", echo, methods=ALL_METHODS),
        Route("/redirect", redirect, methods=ALL_METHODS),
        Route("/redirect-other", redirect_other, methods=ALL_METHODS),
        Route("/loop", redirect_loop, methods=ALL_METHODS),
        Route("/big", big, methods=ALL_METHODS),
        Route("/status/{code:int}", status, methods=ALL_METHODS),
        Route("/slow", slow, methods=ALL_METHODS),
        Route("/drip", drip, methods=ALL_METHODS),
        Route("/latin1", latin1, methods=ALL_METHODS),
        Route("/pretty", pretty, methods=ALL_METHODS),
        Route("/empty", empty, methods=ALL_METHODS),
        Route("/files/{kind}", binary, methods=ALL_METHODS),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(app) as running:
        yield running


@pytest.fixture
async def make_tool() -> AsyncIterator[Callable[..., HttpTool]]:
    """`make_tool(allow=True, **http_settings)`; every tool made is closed afterwards."""
    made: list[HttpTool] = []

    def make(allow: bool | list[str] = True, **http: Any) -> HttpTool:
        tool = HttpTool(ToolsConfig(allow_private_hosts=allow, http=HttpToolConfig(**http)))
        made.append(tool)
        return tool

    yield make
    for tool in made:
        await tool.aclose()


def spec(endpoint: str, **config: Any) -> ToolSpec:
    return ToolSpec(name="get_weather", config={"endpoint": endpoint, **config})


def call(arguments: dict[str, Any] | None = None, id: str = "call_1") -> ToolCall:
    return ToolCall(id=id, name="get_weather", arguments=arguments or {})


async def fails(tool: HttpTool, tool_spec: ToolSpec, *, retryable: bool) -> str:
    with pytest.raises(ToolError) as info:
        await tool.call(tool_spec, call())
    assert info.value.retryable is retryable, info.value.message
    return info.value.message


# --- requests ------------------------------------------------------------------------------


async def test_post_sends_json_body_and_idempotency_key(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    tool = make_tool()
    tool_spec = spec(f"{server.base_url}/echo", headers={"X-Api-Key": "secret"})
    result = await tool.call(tool_spec, call({"city": "Paris", "days": 3}, id="call_abc"))
    seen = json.loads(result)
    assert seen["method"] == "POST"
    assert seen["body"] == {"city": "Paris", "days": 3}
    assert seen["headers"]["idempotency-key"] == "call_abc"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["x-api-key"] == "secret"
    assert seen["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert result == json.dumps(seen, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_put_and_patch_send_a_body(
    server: FakeServer, make_tool: Callable[..., HttpTool], method: str
) -> None:
    result = await make_tool().call(spec(f"{server.base_url}/echo", method=method), call({"a": 1}))
    assert json.loads(result)["method"] == method
    assert json.loads(result)["body"] == {"a": 1}


@pytest.mark.parametrize("method", ["GET", "delete"])
async def test_get_and_delete_send_query_parameters(
    server: FakeServer, make_tool: Callable[..., HttpTool], method: str
) -> None:
    tool_spec = spec(f"{server.base_url}/echo?fixed=1", method=method)
    arguments = {
        "city": "São Paulo",
        "days": 3,
        "exact": True,
        "tags": ["a", "b"],
        "units": None,
        "fixed": "2",
    }
    seen = json.loads(await make_tool().call(tool_spec, call(arguments)))
    assert seen["method"] == method.upper()
    assert seen["body"] is None
    assert seen["query"] == {
        "city": "São Paulo",
        "days": "3",
        "exact": "true",
        "tags": '["a","b"]',
        "fixed": "1",
    }
    assert "content-type" not in seen["headers"]
    assert seen["headers"]["idempotency-key"] == "call_1"


async def test_host_header_is_kept_while_connecting_to_the_checked_address(
    server: FakeServer, make_tool: Callable[..., HttpTool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tool.test` resolves once, in the guard; the request goes to that address with the
    original Host header. A second lookup by the HTTP client would fail."""
    loop = asyncio.get_running_loop()
    real_getaddrinfo = loop.getaddrinfo
    answers = iter([[("127.0.0.1", server.port)]])
    asked: list[str] = []

    async def getaddrinfo(host: Any, port: Any, **kwargs: Any) -> Any:
        asked.append(host)
        if host == "tool.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", addr) for addr in next(answers)]
        return await real_getaddrinfo(host, port, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    result = await make_tool().call(spec(f"http://tool.test:{server.port}/echo"), call())
    assert json.loads(result)["headers"]["host"] == f"tool.test:{server.port}"
    assert asked.count("tool.test") == 1


async def test_next_address_is_tried_when_the_first_refuses(
    server: FakeServer, make_tool: Callable[..., HttpTool], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: Any, port: Any, **kwargs: Any) -> Any:
        assert host == "multi.test"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    tool = make_tool()
    # The server listens on 127.0.0.1 only, so 127.0.0.2 refuses the connection.
    result = await tool.call(spec(f"http://multi.test:{server.port}/echo"), call())
    assert json.loads(result)["method"] == "POST"
    message = await fails(tool, spec(f"http://multi.test:{closed_port}/"), retryable=True)
    assert message.startswith("cannot connect to multi.test")


# --- results -------------------------------------------------------------------------------


async def test_json_is_returned_compact(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    assert (
        await make_tool().call(spec(f"{server.base_url}/pretty"), call()) == '{"a":1,"b":["é",2]}'
    )


async def test_text_is_decoded_with_the_response_charset(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    assert await make_tool().call(spec(f"{server.base_url}/latin1"), call()) == "café"


async def test_an_answer_of_another_type_is_a_file(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    tool = make_tool()
    image = await tool.call(spec(f"{server.base_url}/files/chart.png", method="GET"), call())
    assert image == ToolOutput(
        f"HTTP 200: a file chart.png (image/png, {len(PNG)} bytes), kept as an artifact",
        [ToolFile("image/png", "chart.png", content=PNG, to_model=True)],
    )
    pdf = await tool.call(spec(f"{server.base_url}/files/report"), call())
    assert isinstance(pdf, ToolOutput)
    assert pdf.files == [ToolFile("application/pdf", "q3 report.pdf", b"%PDF-1.4", to_model=True)]
    # No type stated: text, as before.
    assert await tool.call(spec(f"{server.base_url}/files/other"), call()) == "plain"


async def test_empty_response_says_so(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    result = await make_tool().call(spec(f"{server.base_url}/empty"), call())
    assert result == "HTTP 204: empty response"


@pytest.mark.parametrize(
    ("code", "retryable"), [(503, True), (500, True), (429, True), (408, True)]
)
async def test_transient_statuses_are_retryable(
    server: FakeServer, make_tool: Callable[..., HttpTool], code: int, retryable: bool
) -> None:
    message = await fails(make_tool(), spec(f"{server.base_url}/status/{code}"), retryable=True)
    assert message.startswith(f"HTTP {code}: boom {code} detail")


@pytest.mark.parametrize("code", [400, 401, 404, 422])
async def test_client_errors_are_not_retryable(
    server: FakeServer, make_tool: Callable[..., HttpTool], code: int
) -> None:
    message = await fails(make_tool(), spec(f"{server.base_url}/status/{code}"), retryable=False)
    assert message.startswith(f"HTTP {code}: boom {code} detail detail")
    assert len(message) < 260
    assert message.endswith("…")


async def test_body_over_the_cap_is_refused(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    tool = make_tool(max_response_bytes=1000)
    assert await tool.call(spec(f"{server.base_url}/big?n=1000"), call()) == "x" * 1000
    message = await fails(tool, spec(f"{server.base_url}/big?n=5000"), retryable=False)
    assert message.startswith("response larger than 1000 bytes")


# --- timeouts and connection errors --------------------------------------------------------


async def test_slow_response_times_out_retryably(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    started = time.monotonic()
    message = await fails(make_tool(), spec(f"{server.base_url}/slow", timeout=0.2), retryable=True)
    assert time.monotonic() - started < 0.8
    assert message == "no response from 127.0.0.1 within 0.2s"


async def test_spec_timeout_is_capped_by_the_config(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    started = time.monotonic()
    tool = make_tool(timeout=0.2)
    await fails(tool, spec(f"{server.base_url}/slow", timeout=30), retryable=True)
    assert time.monotonic() - started < 0.8


async def test_dripping_body_is_bounded_by_the_deadline(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    started = time.monotonic()
    await fails(make_tool(), spec(f"{server.base_url}/drip", timeout="300ms"), retryable=True)
    assert time.monotonic() - started < 0.8


async def test_refused_connection_is_retryable(make_tool: Callable[..., HttpTool]) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    message = await fails(make_tool(), spec(f"http://127.0.0.1:{port}/"), retryable=True)
    assert message.startswith("cannot connect to 127.0.0.1")


# --- redirects -----------------------------------------------------------------------------


async def test_same_host_redirect_is_followed(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    tool = make_tool()
    # 302 after a POST continues as a GET, as browsers and httpx do.
    seen = json.loads(await tool.call(spec(f"{server.base_url}/redirect?to=/echo"), call({"a": 1})))
    assert (seen["method"], seen["path"], seen["body"]) == ("GET", "/echo", None)
    assert seen["headers"]["idempotency-key"] == "call_1"
    assert "content-type" not in seen["headers"]
    # 307 repeats the request as it was.
    tool_spec = spec(f"{server.base_url}/redirect?status=307&to={server.base_url}/echo")
    seen = json.loads(await tool.call(tool_spec, call({"a": 1})))
    assert (seen["method"], seen["body"]) == ("POST", {"a": 1})


async def test_redirect_to_another_host_is_refused(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    # 127.0.0.1 -> localhost: the same machine, but another host as far as the URL goes.
    message = await fails(make_tool(), spec(f"{server.base_url}/redirect-other"), retryable=False)
    assert message.startswith("redirect to another host refused")
    assert f"http://localhost:{server.port}/echo" in message


async def test_redirect_to_another_scheme_is_refused(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    tool_spec = spec(f"{server.base_url}/redirect?to=https://127.0.0.1:{server.port}/echo")
    message = await fails(make_tool(), tool_spec, retryable=False)
    assert message.startswith("redirect to another host refused")


async def test_redirects_are_limited(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    message = await fails(
        make_tool(max_redirects=2), spec(f"{server.base_url}/loop"), retryable=False
    )
    assert message.startswith("too many redirects")
    no_redirects = make_tool(max_redirects=0)
    await fails(no_redirects, spec(f"{server.base_url}/redirect?to=/echo"), retryable=False)


# --- the address guard ---------------------------------------------------------------------


async def test_loopback_refused_by_default(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    message = await fails(make_tool(allow=False), spec(f"{server.base_url}/echo"), retryable=False)
    assert message == (
        "refusing to call 127.0.0.1: loopback address (set tools.allow_private_hosts to allow)"
    )


@pytest.mark.parametrize("allow", [True, ["127.0.0.0/8"]])
async def test_loopback_allowed_when_configured(
    server: FakeServer, make_tool: Callable[..., HttpTool], allow: bool | list[str]
) -> None:
    result = await make_tool(allow=allow).call(spec(f"{server.base_url}/echo"), call())
    assert json.loads(result)["method"] == "POST"


async def test_hostname_allowed_when_listed(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    tool_spec = spec(f"http://localhost:{server.port}/echo")
    result = await make_tool(allow=["localhost"]).call(tool_spec, call())
    assert json.loads(result)["headers"]["host"] == f"localhost:{server.port}"
    await fails(make_tool(allow=["tools.internal"]), tool_spec, retryable=False)


async def test_metadata_address_refused_even_when_private_hosts_are_allowed(
    make_tool: Callable[..., HttpTool],
) -> None:
    tool_spec = spec("http://169.254.169.254/latest/meta-data/", method="GET")
    message = await fails(make_tool(allow=True), tool_spec, retryable=False)
    assert "cloud metadata address" in message


@pytest.mark.parametrize("endpoint", ["http://10.0.0.5/", "http://[::ffff:10.0.0.5]/"])
async def test_private_network_refused(make_tool: Callable[..., HttpTool], endpoint: str) -> None:
    message = await fails(make_tool(allow=False), spec(endpoint), retryable=False)
    assert "private address" in message


async def test_redirect_hops_are_checked_again(
    server: FakeServer, make_tool: Callable[..., HttpTool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that resolves to an allowed address at first and a refused one on the redirect
    (DNS rebinding between hops) is refused."""
    loop = asyncio.get_running_loop()
    answers = iter(["127.0.0.1", "10.0.0.5"])

    async def getaddrinfo(host: Any, port: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    tool = make_tool(allow=["127.0.0.0/8"])
    tool_spec = spec(f"http://rebind.test:{server.port}/redirect?to=/echo")
    message = await fails(tool, tool_spec, retryable=False)
    assert message.startswith("refusing to call rebind.test (10.0.0.5): private address")


@pytest.mark.parametrize("endpoint", ["file:///etc/passwd", "ftp://127.0.0.1/x"])
async def test_unsupported_scheme_refused_at_call(
    make_tool: Callable[..., HttpTool], endpoint: str
) -> None:
    message = await fails(make_tool(), spec(endpoint), retryable=False)
    assert "http(s) URL" in message


async def test_invalid_arguments_are_reported_without_a_request(
    make_tool: Callable[..., HttpTool],
) -> None:
    bad = ToolCall(id="c", name="get_weather", arguments_error="Expecting value: line 1")
    with pytest.raises(ToolError) as info:
        await make_tool().call(spec("http://10.0.0.5/"), bad)
    assert info.value.retryable is False
    assert "not valid JSON" in info.value.message


async def test_client_is_recreated_after_aclose(
    server: FakeServer, make_tool: Callable[..., HttpTool]
) -> None:
    tool = make_tool()
    await tool.call(spec(f"{server.base_url}/echo"), call())
    await tool.aclose()
    await tool.aclose()
    assert json.loads(await tool.call(spec(f"{server.base_url}/echo"), call()))["method"] == "POST"


# --- validate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "config.endpoint is required"),
        ({"endpoint": ""}, "config.endpoint is required"),
        ({"endpoint": 5}, "config.endpoint must be a URL string"),
        ({"endpoint": "/relative/path"}, "config.endpoint must be an absolute http(s) URL"),
        ({"endpoint": "ftp://example.com/x"}, "config.endpoint must be an absolute http(s) URL"),
        ({"endpoint": "file:///etc/passwd"}, "config.endpoint must be an absolute http(s) URL"),
        ({"endpoint": "http:///x"}, "config.endpoint has no host"),
        ({"endpoint": "http://[::1/"}, "config.endpoint is not a valid URL"),
        ({"endpoint": "http://a.example", "method": "FETCH"}, "config.method must be one of"),
        ({"endpoint": "http://a.example", "method": 1}, "config.method must be one of"),
        ({"endpoint": "http://a.example", "headers": ["X: y"]}, "config.headers must be"),
        ({"endpoint": "http://a.example", "headers": {"Host": "x"}}, "Host is set by the executor"),
        (
            {"endpoint": "http://a.example", "headers": {"Idempotency-Key": "x"}},
            "Idempotency-Key is set by the executor",
        ),
        ({"endpoint": "http://a.example", "headers": {"X-A": "a\r\nb"}}, "config.headers.X-A"),
        ({"endpoint": "http://a.example", "headers": {"X-A": 1}}, "config.headers.X-A"),
        ({"endpoint": "http://a.example", "headers": {"X A": "b"}}, "invalid header name"),
        ({"endpoint": "http://a.example", "timeout": 0}, "config.timeout"),
        ({"endpoint": "http://a.example", "timeout": -1}, "config.timeout"),
        ({"endpoint": "http://a.example", "timeout": "soon"}, "config.timeout"),
        ({"endpoint": "http://a.example", "timeout": True}, "config.timeout"),
        ({"endpoint": "http://a.example", "url": "x"}, "unknown config key 'url'"),
    ],
)
def test_validate_rejects(config: dict[str, Any], expected: str) -> None:
    tool = HttpTool(ToolsConfig())
    with pytest.raises(ToolSpecError) as info:
        tool.validate(ToolSpec(name="get_weather", config=config))
    assert info.value.message.startswith("tool 'get_weather': ")
    assert expected in info.value.message


@pytest.mark.parametrize(
    "config",
    [
        {"endpoint": "https://api.example.com/weather"},
        {"endpoint": "http://10.0.0.5:8080/x?y=1", "method": "get", "timeout": "5s"},
        {"endpoint": "https://a.example", "headers": {"Authorization": "Bearer x"}, "timeout": 2.5},
    ],
)
def test_validate_accepts_without_network(config: dict[str, Any]) -> None:
    HttpTool(ToolsConfig()).validate(ToolSpec(name="get_weather", config=config))


# --- https ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` (and nothing else)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def tls_server(certificate: tuple[Path, Path]) -> AsyncIterator[tuple[int, list[str]]]:
    """An HTTPS server on 127.0.0.1 that answers with the request's headers; yields its port
    and the TLS server names (SNI) clients asked for."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    names: list[str] = []

    def record_name(_socket: Any, name: str | None, _context: Any) -> None:
        names.append(str(name))

    context.sni_callback = record_name

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")[1:]
            headers = dict(line.lower().split(": ", 1) for line in lines if ": " in line)
            await reader.readexactly(int(headers.get("content-length", "0")))
            body = json.dumps({"headers": headers}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError):
            pass  # a client that refused our certificate
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    async with server:
        yield server.sockets[0].getsockname()[1], names


@pytest.fixture
def trust(monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]) -> None:
    """Make the test certificate a trusted root for clients created from now on (httpx reads
    its roots from certifi, and `trust_env=False` ignores SSL_CERT_FILE)."""
    monkeypatch.setattr(certifi, "where", lambda: str(certificate[0]))


async def test_https_verifies_the_hostname_while_connecting_to_the_address(
    tls_server: tuple[int, list[str]], trust: None, make_tool: Callable[..., HttpTool]
) -> None:
    port, names = tls_server
    tool = make_tool(allow=["localhost"])
    seen = json.loads(await tool.call(spec(f"https://localhost:{port}/x"), call({"a": 1})))
    assert names == ["localhost"]
    assert seen["headers"]["host"] == f"localhost:{port}"
    assert seen["headers"]["idempotency-key"] == "call_1"
    assert seen["headers"]["connection"] == "close"


async def test_https_certificate_for_another_name_is_refused(
    tls_server: tuple[int, list[str]],
    trust: None,
    make_tool: Callable[..., HttpTool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`other.test` resolves to the server, whose certificate is for `localhost` only."""
    port, names = tls_server
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: Any, port: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    message = await fails(make_tool(), spec(f"https://other.test:{port}/x"), retryable=False)
    assert message.startswith("TLS certificate of other.test not accepted")
    assert names == ["other.test"]


async def test_https_untrusted_certificate_is_not_retryable(
    tls_server: tuple[int, list[str]], make_tool: Callable[..., HttpTool]
) -> None:
    port, _ = tls_server
    message = await fails(make_tool(), spec(f"https://localhost:{port}/x"), retryable=False)
    assert message.startswith("TLS certificate of localhost not accepted")
