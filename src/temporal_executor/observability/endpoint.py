"""Serving the registry: the exposition a `/metrics` request gets (the API's route, and the
worker's own small server on `observability.metrics_port`)."""

from __future__ import annotations

from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .series import REGISTRY

__all__ = ["exposition", "metrics_app"]


def exposition(accept: str | None) -> Response:
    """Every series, in the format `accept` asks for (Prometheus text, or OpenMetrics)."""
    encoder, content_type = choose_encoder(accept or "")
    return Response(encoder(REGISTRY), media_type=content_type)


def metrics_app() -> Starlette:
    """A worker's metrics server: `/metrics`, and `/healthz` for a liveness probe."""

    async def metrics(request: Request) -> Response:
        return exposition(request.headers.get("accept"))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/metrics", metrics), Route("/healthz", healthz)])
