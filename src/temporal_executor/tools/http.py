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

The answer is the result: JSON compacted, text as it is. An answer of another type (an image,
a PDF, any binary) is a file the task keeps as an artifact (named by the answer's
`Content-Disposition`, else the URL's last path segment); the model reads a line saying so,
and sees an image as an image.

Safety (`fetch.py`): the host is checked by `AddressGuard` and the request goes to exactly the
address that was checked; redirects are followed only to the same origin, each hop checked
again. A body is read up to `tools.http.max_response_bytes` after content decoding (no gzip
bombs), and the whole call, redirects included, has one deadline: the spec's `timeout` or
`tools.http.timeout`, whichever is smaller.
"""

from __future__ import annotations

import asyncio
import json
import re
from email.message import Message as MimeHeaders
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..config.duration import Duration
from ..errors import ToolError, ToolSpecError
from ..llm.media import file_name
from ..spec import ToolSpec
from .base import ToolFile, ToolOutput, ToolType
from .fetch import Fetched, GuardedClient, map_errors
from .guard import DEFAULT_PORTS, AddressGuard

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
_EXCERPT_CHARS = 200
# Answers the model reads as text, besides `text/*`, `*+json` and `*+xml`.
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-ndjson",
        "application/yaml",
        "application/x-yaml",
        "application/x-www-form-urlencoded",
    }
)
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
        guard = AddressGuard(settings.allow_private_hosts)
        self._client = GuardedClient(guard, settings.http.timeout)

    async def call(self, spec: ToolSpec, call: ToolCall) -> str | ToolOutput:
        try:
            endpoint: HttpConfig = self.parse_config(spec)
        except ToolSpecError as exc:
            raise ToolError(exc.message) from exc
        if call.arguments_error:
            raise ToolError(f"the arguments are not valid JSON: {call.arguments_error}")
        limits = self.settings.http
        # The whole call, redirects and a slowly dripping body included, within one deadline.
        timeout = min(endpoint.timeout or limits.timeout, limits.timeout)
        with map_errors(endpoint.endpoint.host, timeout):
            async with asyncio.timeout(timeout):
                fetched = await self._fetch(endpoint, call)
        return _result(fetched, endpoint.endpoint, limits.max_response_bytes)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _fetch(self, endpoint: HttpConfig, call: ToolCall) -> Fetched:
        """Send the request (see `fetch.py`): the final response and its body."""
        limits = self.settings.http
        method, url, content = endpoint.method, endpoint.endpoint, None
        headers = {**_DEFAULT_HEADERS, "Idempotency-Key": call.id}
        if method in _BODY_METHODS:
            content = json.dumps(call.arguments, separators=(",", ":"), ensure_ascii=False)
            headers["Content-Type"] = "application/json"
        else:
            url = url.copy_merge_params(_query(call.arguments, url))
        headers.update(endpoint.headers)
        return await self._client.request(
            method,
            url,
            headers,
            content,
            max_redirects=limits.max_redirects,
            max_bytes=limits.max_response_bytes,
        )


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


def _result(fetched: Fetched, url: httpx.URL, limit: int) -> str | ToolOutput:
    """The tool result for a final response, or the `ToolError` it stands for."""
    response, body, complete = fetched.response, fetched.body, fetched.complete
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
    if _is_text(media_type):
        return _text(response, body)
    name = _filename(response) or file_name(str(url))
    label = f" {name}" if name else ""
    text = f"HTTP {status}: a file{label} ({media_type}, {len(body)} bytes), kept as an artifact"
    file = ToolFile(media_type, name=name, content=body, to_model=True)
    return ToolOutput(text, [file])


def _is_text(media_type: str) -> bool:
    """Whether an answer of this type is text for the model (no type at all counts as text,
    as it always did)."""
    return (
        not media_type
        or media_type.startswith("text/")
        or media_type.endswith(("+json", "+xml"))
        or media_type in _TEXT_TYPES
    )


def _filename(response: httpx.Response) -> str | None:
    """The file name the answer's `Content-Disposition` gives, without any directory."""
    disposition = response.headers.get("Content-Disposition")
    if not disposition:
        return None
    headers = MimeHeaders()
    headers["Content-Disposition"] = disposition
    name = headers.get_filename() or ""
    return name.replace("\\", "/").rsplit("/", 1)[-1] or None


def _text(response: httpx.Response, body: bytes) -> str:
    try:
        return body.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
