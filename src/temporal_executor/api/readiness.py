"""Readiness: the API's `GET /readyz`, and the same check on a listener of its own
(`server.readiness_port`, for platforms that probe another port: kagent's API-v2 runtimes use
8081) that answers nothing else."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..service import TaskService

__all__ = ["readiness", "readiness_app"]


async def readiness(tasks: TaskService) -> tuple[int, dict[str, Any]]:
    """200 when Temporal answers and the store can be read, else 503; and the checks."""
    checks = await tasks.ready()
    ready = all(v == "ok" for v in checks.values())
    return (200 if ready else 503), {"status": "ready" if ready else "not ready", "checks": checks}


def readiness_app(tasks: TaskService) -> Starlette:
    """`GET /readyz` only (anything else is 404): no API, no auth, nothing to protect."""

    async def readyz(request: Request) -> JSONResponse:
        status, body = await readiness(tasks)
        return JSONResponse(body, status_code=status)

    return Starlette(routes=[Route("/readyz", readyz, methods=["GET"])])
