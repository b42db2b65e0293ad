"""Probes: liveness (`/healthz`), readiness (`/readyz`) and Prometheus metrics (`/metrics`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ...observability import CAPACITY_WAITING, TASKS_OPEN, TASKS_PARKED, exposition
from ...store import TaskFilter
from ...tasks import TaskStatus
from ..openapi import Readiness
from ..readiness import readiness
from .deps import Deps, logger

__all__ = ["router"]

router = APIRouter(tags=["probes"])

# The limits this process has reported waiting calls for: 0 once none wait.
_limits_seen: set[str] = set()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready: a check failed"}},
)
async def readyz(api: Deps, response: Response) -> dict[str, Any]:
    """Ready when Temporal answers and the store can be read."""
    response.status_code, body = await readiness(api.tasks, api.build_id)
    return body


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition (OpenMetrics when the Accept header asks)",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/openmetrics-text": {"schema": {"type": "string"}},
            },
        }
    },
)
async def metrics(request: Request, api: Deps) -> Response:
    """Prometheus metrics (see the README's Metrics section); the tasks that have not ended,
    and the calls waiting for capacity, are counted in the store now."""
    try:
        parked = 0
        for status in TaskStatus:
            if not status.terminal:
                open_tasks = await api.tasks.count_tasks(TaskFilter(statuses=[status]))
                TASKS_OPEN.labels(status.value).set(open_tasks)
                parked += open_tasks if status.parked else 0
        TASKS_PARKED.set(parked)
        waiting = await api.tasks.capacity_waiting()
        _limits_seen.update(waiting)
        for limit in _limits_seen:
            CAPACITY_WAITING.labels(limit).set(waiting.get(limit, 0))
    except Exception as exc:  # the rest is still worth serving
        logger.warning("metrics: cannot count open tasks: %s", exc)
    return exposition(request.headers.get("accept"))
