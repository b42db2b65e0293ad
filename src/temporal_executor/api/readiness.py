"""Readiness: the API's `GET /readyz`, and the same check on a listener of its own
(`server.readiness_port`, for platforms that probe another port: kagent's API-v2 runtimes use
8081) that answers nothing else. Both say which version and build id answer (a rolling upgrade
shows which pods run which)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from .. import __version__
from ..service import TaskService

__all__ = ["readiness", "readiness_app"]

READY_TIMEOUT = timedelta(seconds=3)


async def checks(tasks: TaskService) -> dict[str, str]:
    """Whether Temporal answers and the store can be read: "ok" or the error, each (and
    `shutdown` when this process is draining)."""
    found: dict[str, str] = {}
    if tasks.draining:
        found["shutdown"] = "draining"
    try:
        request = GetSystemInfoRequest()
        await tasks.client.workflow_service.get_system_info(request, timeout=READY_TIMEOUT)
        found["temporal"] = "ok"
    except Exception as exc:  # any failure means not ready
        found["temporal"] = f"error: {exc}"
    try:
        await tasks.store.events.read("readyz-probe", 0, 1)
        found["events"] = "ok"
    except Exception as exc:
        found["events"] = f"error: {exc}"
    return found


async def readiness(tasks: TaskService, build_id: str) -> tuple[int, dict[str, Any]]:
    """200 when Temporal answers and the store can be read, else 503; and the checks."""
    found = await checks(tasks)
    ready = all(v == "ok" for v in found.values())
    body = {
        "status": "ready" if ready else "not ready",
        "version": __version__,
        "build_id": build_id,
        "checks": found,
    }
    return (200 if ready else 503), body


def readiness_app(tasks: TaskService, build_id: str) -> Starlette:
    """`GET /readyz` only (anything else is 404): no API, no auth, nothing to protect."""

    async def readyz(request: Request) -> JSONResponse:
        status, body = await readiness(tasks, build_id)
        return JSONResponse(body, status_code=status)

    return Starlette(routes=[Route("/readyz", readyz, methods=["GET"])])
