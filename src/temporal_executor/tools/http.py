"""`http` tools: a tool call becomes one HTTP request to the endpoint in the tool's config.

```yaml
type: http
config:
  endpoint: https://api.example.com/weather   # required, http or https
  method: GET                                 # GET, POST (default), PUT, PATCH, DELETE
  headers: {X-Api-Key: "..."}                 # optional
  timeout: 10s                                # optional, at most tools.http.timeout
```

POST, PUT and PATCH send the arguments as a JSON body; GET and DELETE send them as query
parameters (strings as they are, other values as JSON, `null` left out; a parameter already in
the endpoint's query string wins). Every request carries `Idempotency-Key: <tool call id>`.

Safety: the host is checked by `AddressGuard` and the request goes to exactly the address that
was checked, with the `Host` header and TLS server name (SNI and certificate check) of the real
hostname. Redirects are followed by hand, only to the same scheme, host and port, each hop
checked again. HTTPS connections are not reused across requests, since the connection pool is
keyed by address and a connection verified for one hostname must not carry another's request.
A body is read up to `tools.http.max_response_bytes` after content decoding (no gzip bombs),
and the whole call, redirects included, has one deadline: the spec's `timeout` or
`tools.http.timeout`, whichever is smaller.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..config.duration import Duration
from ..errors import ToolError, ToolSpecError
from ..spec import ToolSpec
from .base import ToolType
from .guard import DEFAULT_PORTS, AddressGuard, Resolved

if TYPE_CHECKING:
    from ..config import ToolsConfig
    from ..llm.messages import ToolCall

__all__ = ["Endpoint", "Headers", "HttpConfig", "HttpTool"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Headers we set ourselves; letting a spec override them would defeat the address pinning
# or the idempotency key.
_RESERVED_HEADERS = frozenset(
    {"connection", "content-length", "host", "idempotency-key", "transfer-encoding"}
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e]*$")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_EXCERPT_CHARS = 200
_DEFAULT_HEADERS = {
    "Accept": "application/json, text/plain;q=0.9, */*;q=0.8",
    "User-Agent": "temporal-executor",
}


def _url(raw: object) -> httpx.URL:
    if raw is None or raw == "":
        raise ValueError("is required")
    if not isinstance(raw, str):
        raise ValueError("must be a URL string")
    try:
        url = httpx.URL(raw.strip())
    except httpx.InvalidURL as exc:
        raise ValueError(f"is not a valid URL: {exc}") from None
    if url.scheme not in DEFAULT_PORTS:
        raise ValueError(f"must be an absolute http(s) URL: {raw!r}")
    if not url.host:
        raise ValueError(f"has no host: {raw!r}")
    return url


def _method(raw: object) -> str:
    if not isinstance(raw, str) or raw.upper() not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)} (got {raw!r})")
    return raw.upper()


def _headers(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValueError("must be a mapping of names to strings")
    for name in raw:
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"{name} is set by the executor")
    return raw


def _header_value(raw: object) -> str:
    if not isinstance(raw, str) or not _HEADER_VALUE.match(raw):
        raise ValueError("must be a string of printable ASCII")
    return raw


# An absolute http(s) URL, and request headers, as tool configs give them (`agent` too).
Endpoint = Annotated[httpx.URL, BeforeValidator(_url)]
Headers = Annotated[
    dict[str, Annotated[str, BeforeValidator(_header_value)]], BeforeValidator(_headers)
]


class HttpConfig(BaseModel):
    """An `http` tool's `config`."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    endpoint: Endpoint
    method: Annotated[str, BeforeValidator(_method)] = "POST"
    headers: Headers = Field(default_factory=dict)
    timeout: Duration | None = None


class HttpTool(ToolType):
    """Calls an HTTP endpoint; one shared connection pool per worker."""

    type = "http"
    config_model = HttpConfig

    def __init__(self, settings: ToolsConfig) -> None:
        super().__init__(settings)
        self._guard = AddressGuard(settings.allow_private_hosts)
        self._client: httpx.AsyncClient | None = None

    async def call(self, spec: ToolSpec, call: ToolCall) -> str:
        try:
            endpoint: HttpConfig = self.parse_config(spec)
        except ToolSpecError as exc:
            raise ToolError(exc.message) from exc
        if call.arguments_error:
            raise ToolError(f"the arguments are not valid JSON: {call.arguments_error}")
        limits = self.settings.http
        # The whole call, redirects and a slowly dripping body included, within one deadline.
        timeout = min(endpoint.timeout or limits.timeout, limits.timeout)
        with _map_errors(endpoint.endpoint.host, timeout):
            async with asyncio.timeout(timeout):
                response, body, complete = await self._fetch(endpoint, call)
        return _result(response, body, complete, limits.max_response_bytes)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _fetch(
        self, endpoint: HttpConfig, call: ToolCall
    ) -> tuple[httpx.Response, bytes, bool]:
        """Send the request, following same-origin redirects; return the final response and
        its body (at most `max_response_bytes`, and whether that is all of it)."""
        limits = self.settings.http
        method, url, content = endpoint.method, endpoint.endpoint, None
        headers = {**_DEFAULT_HEADERS, "Idempotency-Key": call.id}
        if method in _BODY_METHODS:
            content = json.dumps(call.arguments, separators=(",", ":"), ensure_ascii=False)
            headers["Content-Type"] = "application/json"
        else:
            url = url.copy_merge_params(_query(call.arguments, url))
        headers.update(endpoint.headers)
        for hop in range(limits.max_redirects + 1):
            resolved = await self._guard.resolve(url)
            response = await self._send(resolved, method, url, headers, content)
            try:
                location = response.headers.get("Location")
                if response.status_code not in _REDIRECTS or not location:
                    body, complete = await _read_capped(response, limits.max_response_bytes)
                    return response, body, complete
            finally:
                await response.aclose()
            if hop == limits.max_redirects:
                break
            target = url.join(location)
            if _origin(target) != _origin(url):
                raise ToolError(f"redirect to another host refused: {_without_secrets(target)}")
            # As browsers and httpx do: 303, and 301/302 after a POST, continue with a GET.
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, content = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = target
        raise ToolError(
            f"too many redirects (more than tools.http.max_redirects = {limits.max_redirects})"
        )

    async def _send(
        self,
        resolved: Resolved,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        content: str | None,
    ) -> httpx.Response:
        """Send to the checked addresses in turn until one accepts the connection; a refused
        connection means nothing was sent, so trying the next address is safe."""
        client = self._http()
        headers = {**headers, "Host": url.netloc.decode("ascii")}
        extensions: dict[str, Any] = {}
        if resolved.scheme == "https":
            # The ASCII (IDNA) name: what the certificate is checked against.
            extensions["sni_hostname"] = url.raw_host.decode("ascii").strip("[]").rstrip(".")
            headers["Connection"] = "close"

        def build(ip: str) -> httpx.Request:
            return client.build_request(
                method,
                url.copy_with(host=ip),
                headers=headers,
                content=content,
                extensions=extensions,
            )

        *others, last = resolved.ips
        for ip in others:
            try:
                return await client.send(build(ip), stream=True)
            except httpx.ConnectError as exc:
                if _tls_failure(exc):
                    raise
        return await client.send(build(last), stream=True)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                timeout=self.settings.http.timeout,
            )
        return self._client


@contextmanager
def _map_errors(host: str, timeout: float) -> Iterator[None]:
    """Turn httpx and timeout errors into `ToolError`, retryable when trying again may help."""
    try:
        yield
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise ToolError(f"no response from {host} within {timeout:g}s", retryable=True) from exc
    except httpx.ConnectError as exc:
        if _tls_failure(exc):
            raise ToolError(f"TLS certificate of {host} not accepted: {exc}") from exc
        raise ToolError(f"cannot connect to {host}: {exc}", retryable=True) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise ToolError(f"connection to {host} failed: {exc}", retryable=True) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ToolError(f"request to {host} failed: {exc}") from exc


def _tls_failure(exc: BaseException) -> bool:
    """Whether a connect error is a certificate problem, which trying again will not fix."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _query(arguments: dict[str, Any], url: httpx.URL) -> dict[str, str]:
    """Arguments as query parameters; the endpoint's own parameters are not overridden."""
    params: dict[str, str] = {}
    for key, value in arguments.items():
        if value is None or key in url.params:
            continue
        if isinstance(value, str):
            params[key] = value
        else:
            params[key] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return params


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host.lower(), url.port or DEFAULT_PORTS.get(url.scheme, 0)


def _without_secrets(url: httpx.URL) -> str:
    """The URL for a message: no user info, no query string (either may hold a key)."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"


async def _read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Read at most `limit` (decoded) bytes; also say whether that was the whole body."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), False
    return bytes(body), True


def _result(response: httpx.Response, body: bytes, complete: bool, limit: int) -> str:
    """The tool result for a final response, or the `ToolError` it stands for."""
    status = response.status_code
    if not 200 <= status < 300:
        excerpt = " ".join(_text(response, body[: _EXCERPT_CHARS * 4]).split())
        if len(excerpt) > _EXCERPT_CHARS:
            excerpt = excerpt[:_EXCERPT_CHARS] + "…"
        message = f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}"
        if not excerpt and response.reason_phrase:
            message += f" {response.reason_phrase}"
        raise ToolError(message, retryable=status in (408, 429) or status >= 500)
    if not complete:
        raise ToolError(f"response larger than {limit} bytes (tools.http.max_response_bytes)")
    if not body:
        return f"HTTP {status}: empty response"
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)
        except ValueError:
            pass
    return _text(response, body)


def _text(response: httpx.Response, body: bytes) -> str:
    try:
        return body.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
