"""The HTTP API: REST routes, SSE and (later) the A2A server, in one FastAPI app."""

from __future__ import annotations

from .app import close_app, create_app, start_app

__all__ = ["close_app", "create_app", "start_app"]
