"""A recording HTTP proxy in front of an agent, for tests of agents calling agents: every
request is passed on to `target` as it came (streamed answers streamed back), and recorded:
its method and path, its headers, and for a JSON-RPC call its method and message id.

    with FakeServer(recording_proxy("http://127.0.0.1:8000")) as proxy:
        ...  # proxy.app.state.requests: [{"path", "headers", "rpc", "message_id", ...}]

A caller reaches the agent through it when the agent's card is fetched from the proxy and
every call goes to the proxy's host (kagent's `x-kagent-host` routing, which our `agent`
tools honour), so that a test sees each request the caller made.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

__all__ = ["message_sends", "recording_proxy"]

_HOP = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}
_SENDS = {"SendMessage", "SendStreamingMessage", "message/send", "message/stream"}


def recording_proxy(target: str) -> Starlette:
    requests: list[dict[str, Any]] = []
    client = httpx.AsyncClient(base_url=target, timeout=httpx.Timeout(30.0, read=None))

    async def forward(request: Request) -> StreamingResponse:
        body = await request.body()
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "headers": {k.lower(): v for k, v in request.headers.items()},
        }
        if body and request.headers.get("content-type", "").startswith("application/json"):
            payload = json.loads(body)
            if isinstance(payload, dict) and "method" in payload:
                entry["rpc"] = payload["method"]
                message = (payload.get("params") or {}).get("message") or {}
                entry["message_id"] = message.get("messageId")
                entry["task_id"] = message.get("taskId")
        requests.append(entry)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        upstream = await client.send(
            client.build_request(
                request.method,
                request.url.path,
                params=request.query_params,
                headers=headers,
                content=body,
            ),
            stream=True,
        )
        passed = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
        return StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            headers=passed,
            background=BackgroundTask(upstream.aclose),
        )

    app = Starlette(
        routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "DELETE"])]
    )
    app.state.requests = requests
    return app


def message_sends(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The JSON-RPC calls that sent a message (a request, or a decision on a paused task)."""
    return [r for r in requests if r.get("rpc") in _SENDS]
