"""The HTTP API: REST routes, SSE and the A2A server, in one FastAPI app (`app.py`)."""

from __future__ import annotations

from .app import create_app
from .submission import Submissions

__all__ = ["Submissions", "create_app"]
