"""What the app mounts for A2A: the agent card (with caching headers), the JSON-RPC endpoint
(1.0 and 0.3 method names), the HTTP+JSON routes (1.0 and 0.3 paths) and the response headers
of those routes, and the gRPC listener beside them (`grpc_server.py`), all over one
`TemporalRequestHandler`."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from a2a.server.routes import (
    DefaultServerCallContextBuilder,
    add_a2a_routes_to_fastapi,
    create_rest_routes,
)

# isort: split
# After `a2a.server.routes`: imported first, the SDK's compat adapters import it circularly.
from a2a.compat.v0_3.jsonrpc_adapter import JSONRPC03Adapter
from a2a.compat.v0_3.rest_adapter import REST03Adapter
from a2a.server.context import ServerCallContext
from a2a.server.request_handlers.response_helpers import (
    agent_card_to_dict,
    build_error_response,
)
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.types import TaskState
from a2a.utils.constants import A2A_JSON_MEDIA_TYPE, PROTOCOL_VERSION_1_0, VERSION_HEADER
from a2a.utils.error_handlers import build_rest_error_payload
from a2a.utils.errors import ContentTypeNotSupportedError, InvalidParamsError
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...config import Config
from ...service import TaskService
from ...tools.guard import AddressGuard
from ..auth import CALLER_STATE, caller_from_scope
from ..submission import Submissions
from .access import scoped_jsonrpc, scoped_rest
from .card import JSONRPC_PATH, REST_PATH, agent_card, public_url
from .handler import TemporalRequestHandler
from .hitl import HITL_EXTENSION_URI
from .inputs import checked_rest
from .openapi import describe_a2a
from .push import PushNotifier
from .push_configs import PushConfigs
from .streams import started_jsonrpc, started_rest
from .tenancy import A2ATenants
from .view import Links

if TYPE_CHECKING:
    from .grpc_server import GrpcServer

__all__ = ["A2AServer"]

logger = logging.getLogger(__name__)

# Also under the JSON-RPC URL: clients (and conformance kits) given that URL look there.
CARD_PATHS = (
    "/.well-known/agent-card.json",
    "/.well-known/agent.json",
    f"{JSONRPC_PATH}/.well-known/agent-card.json",
)
_EXTENSION_HEADERS = (b"a2a-extensions", b"x-a2a-extensions")
_A2A_JSON = A2A_JSON_MEDIA_TYPE.encode()


class A2AServer:
    """The A2A server over `tasks`: `mount(app)` adds its routes; `start()` resumes push
    deliveries left undone by an earlier process and opens the gRPC listener (with
    `a2a.grpc.enabled`), `aclose()` closes it and stops the deliveries in flight."""

    def __init__(self, config: Config, tasks: TaskService, submissions: Submissions) -> None:
        self.config = config
        tenants = A2ATenants(
            tasks, submissions, config.a2a.default_agent, Links(public_url(config))
        )
        push = None
        settings = config.a2a.push_notifications
        if settings.enabled:
            guard = AddressGuard(
                settings.allow_private_hosts or False,
                setting="a2a.push_notifications.allow_private_hosts",
            )
            push = PushNotifier(tenants, PushConfigs(tasks.store.blobs), settings, guard)
        self.handler = TemporalRequestHandler(
            tenants,
            push,
            accept_task_ids=config.a2a.accept_task_ids,
            ended_not_found=config.a2a.subscribe_ended_task == "task_not_found",
        )
        self.grpc: GrpcServer | None = None

    async def start(self) -> None:
        if self.handler.push is not None:
            self.handler.push.resume()
        if self.config.a2a.grpc.enabled:
            from .grpc_server import GrpcServer  # grpcio is imported only when gRPC is on

            self.grpc = GrpcServer(self.config, self.handler)
            await self.grpc.start()

    async def aclose(self) -> None:
        if self.grpc is not None:
            await self.grpc.stop()
        if self.handler.push is not None:
            await self.handler.push.aclose()

    def mount(self, app: FastAPI) -> None:
        """Add the agent card, JSON-RPC and HTTP+JSON routes to `app`."""
        add_a2a_routes_to_fastapi(
            app,
            agent_card_routes=[Route(path, self._card(), methods=["GET"]) for path in CARD_PATHS],
            # Also with a trailing slash: clients joining "/" to the card's URL post there.
            jsonrpc_routes=[
                Route(
                    path,
                    scoped_jsonrpc(started_jsonrpc(_jsonrpc_endpoint(self.handler))),
                    methods=["POST"],
                )
                for path in (JSONRPC_PATH, JSONRPC_PATH + "/", *self._root())
            ],
            rest_routes=_rest_routes(self.handler),
        )
        app.add_middleware(_A2AHeaders)
        _describe_in_openapi(app)

    def _root(self) -> tuple[str, ...]:
        return ("/",) if self.config.a2a.jsonrpc_at_root else ()

    def _card(self) -> Any:
        config = self.config
        started = formatdate(time.time(), usegmt=True)

        async def card(request: Request) -> Response:
            """The card, with the caching headers of spec §8.6: it changes only with the
            config, so a client may keep it five minutes and revalidate with its ETag."""
            base = config.a2a.url or str(request.base_url).rstrip("/")
            body = json.dumps(agent_card_to_dict(agent_card(config, base)), separators=(",", ":"))
            headers = {
                "Cache-Control": "public, max-age=300",
                "ETag": '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"',
                "Last-Modified": started,
            }
            wanted = request.headers.get("if-none-match", "")
            if wanted.strip() == "*" or headers["ETag"] in wanted:
                return Response(status_code=304, headers=headers)
            return Response(body, media_type="application/json", headers=headers)

        return card


def _describe_in_openapi(app: FastAPI) -> None:
    """`/openapi.json` with the A2A routes' parameters and answers (`describe_a2a`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            describe_a2a(generate())  # FastAPI keeps what it generated: completed in place
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


class _WithCaller(DefaultServerCallContextBuilder):
    """Every call's context carries its caller (`caller_of(context)`; None: auth is off)."""

    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        context.state[CALLER_STATE] = caller_from_scope(request.scope)
        return context


class _VersionByName(_WithCaller):
    """For the 1.0 routes: no `A2A-Version` header means 1.0 (or `?A2A-Version=`)."""

    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        headers = context.state.setdefault("headers", {})
        if VERSION_HEADER.lower() not in {k.lower() for k in headers}:
            headers[VERSION_HEADER.lower()] = request.query_params.get(
                VERSION_HEADER, PROTOCOL_VERSION_1_0
            )
        return context


def _jsonrpc_endpoint(handler: TemporalRequestHandler) -> Any:
    current = JsonRpcDispatcher(handler, context_builder=_VersionByName())
    legacy = JsonRpcDispatcher(handler, context_builder=_WithCaller(), enable_v0_3_compat=True)

    async def jsonrpc(request: Request) -> Response:
        """A2A JSON-RPC: 1.0 method names, and the 0.3 ones (`message/send`, …)."""
        if media := _not_json(request):
            error = ContentTypeNotSupportedError(f"send JSON-RPC as application/json, not {media}")
            return JSONResponse(build_error_response(None, error))
        raw = await request.body()
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            # The dispatcher would answer an internal error (-32603) naming the codec, and
            # the SDK's `build_error_response` has no JSON-RPC form for a parse error.
            parse = {"code": -32700, "message": f"the body is not UTF-8 (byte {exc.start})"}
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": parse})
        except ValueError:
            body = None  # the dispatcher answers with a parse error
        method = body.get("method") if isinstance(body, dict) else None
        if isinstance(method, str) and method in JSONRPC03Adapter.METHOD_TO_MODEL:
            return await legacy.handle_requests(request)
        if method == "ListTasks" and (problem := _unknown_status(body)):
            return JSONResponse(build_error_response(body.get("id"), InvalidParamsError(problem)))
        return await current.handle_requests(request)

    return jsonrpc


def _not_json(request: Request) -> str | None:
    """The request's media type when it names one that is not JSON."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        return media
    return None


def _unknown_status(body: dict[str, Any]) -> str | None:
    """The SDK parses an unknown enum name as "unspecified": a ListTasks filter on a state
    that does not exist would list every task instead of failing."""
    params = body.get("params")
    status = params.get("status") if isinstance(params, dict) else None
    if isinstance(status, str) and status not in TaskState.keys():
        return f"status: {status!r} is not a task state ({', '.join(TaskState.keys()[1:])})"
    return None


def _rest_routes(handler: TemporalRequestHandler) -> list[BaseRoute]:
    current = [
        route
        for route in create_rest_routes(
            handler, context_builder=_VersionByName(), path_prefix=REST_PATH
        )
        if isinstance(route, Route)  # not the SDK's `/{tenant}` mount: it would catch any path
    ]
    routes: list[BaseRoute] = [
        Route(
            route.path,
            scoped_rest(checked_rest(_spec_status(route.endpoint))),
            methods=route.methods,
        )
        for route in current
    ]
    legacy = REST03Adapter(http_handler=handler, context_builder=_WithCaller())
    for (path, method), endpoint in legacy.routes().items():
        routes.append(
            Route(
                REST_PATH + path,
                scoped_rest(checked_rest(started_rest(endpoint))),
                methods=[method],
            )
        )
    # The 1.0 routes again under a tenant (A2A 1.0: `<base>/{tenant}/tasks/…`, where the SDK's
    # client puts it); last, so that `/v1/…` and `/tasks/…` are never taken for a tenant.
    for route in current:
        routes.append(
            Route(
                REST_PATH + "/{tenant}" + route.path.removeprefix(REST_PATH),
                scoped_rest(checked_rest(_spec_status(route.endpoint))),
                methods=route.methods,
            )
        )
    return routes


def _spec_status(endpoint: Any) -> Any:
    """The HTTP status the spec's error table gives (§5.4) where a2a-sdk 1.3 differs:
    ContentTypeNotSupportedError is 415, not 400; and a body that is not JSON gets it (the
    SDK reads any body as JSON, whatever its `Content-Type`), as JSON-RPC's does."""

    async def answer(request: Request) -> Response:
        if request.method == "POST" and (media := _not_json(request)):
            error = ContentTypeNotSupportedError(
                f"send HTTP+JSON bodies as application/json, not {media}"
            )
            payload = build_rest_error_payload(error)
            payload["error"]["code"] = 415
            return JSONResponse(payload, status_code=415)
        response: Response = await endpoint(request)
        if response.status_code != 400 or not isinstance(response, JSONResponse):
            return response
        body = json.loads(bytes(response.body))
        details = body.get("error", {}).get("details", [])
        if not any(d.get("reason") == "CONTENT_TYPE_NOT_SUPPORTED" for d in details):
            return response
        body["error"]["code"] = 415
        return JSONResponse(body, status_code=415)

    return answer


class _A2AHeaders:
    """Response headers of the A2A routes: the extensions we activated (kagent's HITL one,
    when asked for), and `Content-Type: application/json` on HTTP+JSON answers, as the spec
    requires (§11.1; the SDK labels them `application/a2a+json`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(JSONRPC_PATH):
            await self.app(scope, receive, send)
            return
        uri = HITL_EXTENSION_URI.encode()
        # Under the header name the client used (0.3 clients send the X- one).
        echoed = [
            (name, uri)
            for name in dict.fromkeys(
                name.lower()
                for name, value in scope["headers"]
                if name.lower() in _EXTENSION_HEADERS
                and uri in {v.strip() for v in value.split(b",")}
            )
        ]

        async def relabelling_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, b"application/json" if value == _A2A_JSON else value)
                    if name.lower() == b"content-type"
                    else (name, value)
                    for name, value in message.get("headers", [])
                ]
                message = {**message, "headers": [*headers, *echoed]}
            await send(message)

        await self.app(scope, receive, relabelling_send)
