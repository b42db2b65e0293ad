"""The FastAPI application: routes, error rendering, auth and the body-size cap."""

from __future__ import annotations

from fastapi import FastAPI

from .. import __version__
from ..service import TaskService
from .errors import install_error_handlers
from .middleware import BearerAuth, BodyLimit
from .routes import router

__all__ = ["close_app", "create_app", "start_app"]


def create_app(service: TaskService) -> FastAPI:
    """The ASGI app serving `service`; auth keys are read from the environment once, here."""
    app = FastAPI(
        title="temporal-executor",
        version=__version__,
        description="Run LLM agents as durable Temporal workflows.",
    )
    app.state.service = service
    install_error_handlers(app)
    app.include_router(router)
    if service.config.a2a.enabled:
        from .a2a import mount_a2a  # the a2a-sdk is imported only when A2A is on

        mount_a2a(app, service)
    server = service.config.server
    # Added last = outermost: the size cap applies before anything reads the body.
    app.add_middleware(BearerAuth, keys=server.api_keys())
    app.add_middleware(BodyLimit, max_bytes=server.max_body_bytes)
    return app


def start_app(app: FastAPI) -> None:
    """Start what the app runs in the background once it serves (A2A push deliveries that a
    previous process left undone)."""
    a2a = getattr(app.state, "a2a", None)
    if a2a is not None:
        a2a.start()


async def close_app(app: FastAPI) -> None:
    """Stop what the app runs in the background (A2A push deliveries)."""
    a2a = getattr(app.state, "a2a", None)
    if a2a is not None:
        await a2a.aclose()
