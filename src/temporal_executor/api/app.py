"""The FastAPI application: routes, error rendering, auth, the body-size cap, the A2A server,
and the codec server when encryption has keys; background work (A2A push deliveries, the A2A
gRPC listener) starts and stops with the app's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI

from .. import __version__
from ..build import build_id
from ..config import Config
from ..encryption import EncryptionCodec, Keyring
from ..schedules import ScheduleService
from ..service import TaskService
from ..triggers import TriggerService
from .auth import Authenticator
from .catalog import build_catalog
from .catalog import router as catalog_router
from .errors import install_error_handlers
from .middleware import BearerAuth, BodyLimit, CodecCors, NestingLimit
from .routes import a2a_message, approvals, files, probes, schedules, sessions, travel, triggers
from .routes import tasks as task_routes
from .routes.codec import codec_router
from .routes.deps import Api
from .submission import Submissions
from .ui import mount_ui

__all__ = ["create_app"]

_UNTRACED = frozenset({"/metrics", "/healthz", "/readyz"})


def create_app(
    config: Config, tasks: TaskService, submissions: Submissions, *, keyring: Keyring | None = None
) -> FastAPI:
    """The ASGI app serving `tasks` (and the schedules and webhook triggers that start
    them); auth keys and the secrets of config's triggers are read from the environment
    once, here (a trigger of config without its secret, or a default agent whose model has a
    knob its provider cannot honour, is a `ConfigError`). With a `keyring`
    (`security.encryption`), it serves the codec server at `/codec`."""
    trigger_service = TriggerService(config.triggers, tasks.store.definitions)
    triggers.check_configured(trigger_service, submissions)
    submissions.check_default_agent(config.a2a.default_agent)
    background = []
    if config.a2a.enabled:
        from .a2a import A2AServer  # the a2a-sdk is imported only when A2A is on

        background.append(A2AServer(config, tasks, submissions))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            for server in background:
                await server.start()  # a gRPC port in use fails the start-up
            yield
        finally:
            for server in background:
                await server.aclose()

    app = FastAPI(
        title="temporal-executor",
        version=__version__,
        description="Run LLM agents as durable Temporal workflows.",
        lifespan=lifespan,
        # FastAPI traces requests itself once a tracer provider is set (observability);
        # probes and scrapes would only be noise.
        telemetry={"exclude": lambda scope: scope.get("path") in _UNTRACED},
    )
    app.state.api = Api(
        tasks=tasks,
        submissions=submissions,
        schedules=ScheduleService(
            tasks.client, tasks.store.definitions, config.temporal.task_queue
        ),
        triggers=trigger_service,
        default_agent=config.a2a.default_agent,
        sse_heartbeat=config.server.sse_heartbeat,
        build_id=build_id(config),
        ui_url=config.temporal.ui_url,
        namespace=config.temporal.namespace,
    )
    app.state.a2a = background[0] if background else None
    app.state.catalog = build_catalog(config)
    install_error_handlers(app)
    for routes in (
        task_routes,
        files,
        travel,
        approvals,
        sessions,
        schedules,
        triggers,
        a2a_message,
        probes,
    ):
        app.include_router(routes.router)
    app.include_router(catalog_router)
    authenticator = Authenticator(config.server.api_keys())
    if keyring is not None:
        app.include_router(codec_router(EncryptionCodec(keyring), authenticator))
    mount_ui(app)
    for server in background:
        server.mount(app)
    # Added last = outermost: the size cap applies before anything reads the body, and the
    # nesting cap after auth and before any JSON parser.
    app.add_middleware(NestingLimit)
    app.add_middleware(BearerAuth, authenticator=authenticator)
    app.add_middleware(BodyLimit, max_bytes=config.server.max_body_bytes)
    # Outermost: a preflight is answered before auth, and a 401 is readable by the UI.
    app.add_middleware(CodecCors, origin=_origin(config.temporal.ui_url))
    return app


def _origin(url: str | None) -> str | None:
    """The origin (scheme, host, port) of a URL: what a browser sends as `Origin`."""
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
