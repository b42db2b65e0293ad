"""Outbound HTTP to addresses the guard allows: what `http` tools send, and how the API fetches
a user's image or file given by URL.

The host is checked by `AddressGuard` and the request goes to exactly the address that was
checked, with the `Host` header and TLS server name (SNI and certificate check) of the real
hostname. Redirects are followed by hand, only to the same scheme, host and port, each hop
checked again. HTTPS connections are not reused across requests, since the connection pool is
keyed by address and a connection verified for one hostname must not carry another's request.
A body is read up to a cap after content decoding (no gzip bombs). Failures are `ToolError`s
(`map_errors`), retryable when trying again may help.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ToolError
from .guard import DEFAULT_PORTS, AddressGuard, Resolved

__all__ = ["Fetched", "GuardedClient", "map_errors", "without_secrets"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Fetched:
    """A final (not redirecting) response, closed, with its body: at most the cap asked
    for, and `complete` when that is all of it."""

    response: httpx.Response
    body: bytes
    complete: bool


class GuardedClient:
    """Sends requests to checked addresses (see the module docstring); one connection pool."""

    def __init__(self, guard: AddressGuard, timeout: float) -> None:
        self.guard = guard
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def request(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        content: str | None = None,
        *,
        max_redirects: int,
        max_bytes: int,
    ) -> Fetched:
        """Send, following same-origin redirects; the final response and its body."""
        for hop in range(max_redirects + 1):
            resolved = await self.guard.resolve(url)
            response = await self._send(resolved, method, url, headers, content)
            try:
                location = response.headers.get("Location")
                if response.status_code not in _REDIRECTS or not location:
                    body, complete = await _read_capped(response, max_bytes)
                    return Fetched(response, body, complete)
            finally:
                await response.aclose()
            if hop == max_redirects:
                break
            target = url.join(location)
            if _origin(target) != _origin(url):
                raise ToolError(f"redirect to another host refused: {without_secrets(target)}")
            # As browsers and httpx do: 303, and 301/302 after a POST, continue with a GET.
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, content = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = target
        raise ToolError(f"too many redirects (more than {max_redirects})")

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
                follow_redirects=False, trust_env=False, timeout=self.timeout
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@contextmanager
def map_errors(host: str, timeout: float) -> Iterator[None]:
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


def without_secrets(url: httpx.URL) -> str:
    """The URL for a message: no user info, no query string (either may hold a key)."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"


def _tls_failure(exc: BaseException) -> bool:
    """Whether a connect error is a certificate problem, which trying again will not fix."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host.lower(), url.port or DEFAULT_PORTS.get(url.scheme, 0)


async def _read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Read at most `limit` (decoded) bytes; also say whether that was the whole body."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), False
    return bytes(body), True
