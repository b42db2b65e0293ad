"""One table from our errors to HTTP status codes, and the handlers that render every error as
`{"error": {"code", "message", "details"}}` — never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from ..errors import ExecutorError, UnsupportedMediaTypeError, describe_validation
from .middleware import error_headers

__all__ = ["error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status)


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _field(loc: tuple[int | str, ...]) -> str:
    """A request field's name: its path in the body (or its query parameter's name)."""
    return ".".join(str(p) for p in loc if p not in ("body", "query", "path")) or "(body)"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ExecutorError)
    async def executor_error(request: Request, exc: ExecutorError) -> JSONResponse:
        status = exc.http_status
        if status >= 500:
            logger.error("unhandled %s: %s", type(exc).__name__, exc.message)
        response = error_response(status, exc.code, exc.message, exc.details)
        response.headers.update(error_headers(exc))
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        body_sent = any(e.get("loc", ())[:1] == ("body",) for e in errors)
        if body_sent and not _is_json(request) and await request.body():
            media = request.headers.get("content-type") or "no Content-Type"
            error = UnsupportedMediaTypeError(f"send the body as application/json, not {media}")
            return error_response(415, error.code, error.message)
        if errors and errors[0].get("type") == "json_invalid":
            return error_response(422, "invalid_request", "request body is not valid JSON")
        message, details = describe_validation(errors, field=_field)
        return error_response(422, "invalid_request", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RPCError)
    async def temporal_error(request: Request, exc: RPCError) -> JSONResponse:
        logger.warning("Temporal call failed: %s", exc)
        return error_response(503, "temporal_unavailable", f"Temporal call failed: {exc.message}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error; see the server log")
