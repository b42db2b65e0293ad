"""The FastAPI application: routes, error rendering, auth and the body-size cap."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from .. import __version__
from ..service import TaskService
from .errors import install_error_handlers
from .middleware import BearerAuth, BodyLimit
from .routes import router

__all__ = ["create_app"]


def create_app(service: TaskService) -> ASGIApp:
    """The ASGI app serving `service`; auth keys are read from the environment once, here."""
    app = FastAPI(
        title="temporal-executor",
        version=__version__,
        description="Run LLM agents as durable Temporal workflows.",
    )
    app.state.service = service
    install_error_handlers(app)
    app.include_router(router)
    server = service.config.server
    return BodyLimit(BearerAuth(app, server.api_keys()), server.max_body_bytes)
