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

from ..errors import (
    ConflictError,
    ExecutorError,
    ProviderNotConfiguredError,
    RequestError,
    TaskNotFoundError,
)

__all__ = ["ERROR_STATUS", "error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)

ERROR_STATUS: dict[type[ExecutorError], int] = {
    ProviderNotConfiguredError: 400,
    RequestError: 400,
    TaskNotFoundError: 404,
    ConflictError: 409,
}


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status)


def _status_of(exc: ExecutorError) -> int:
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 500


def _describe_validation(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        details.append({"field": ".".join(loc) or "(body)", "message": error.get("msg", "")})
    first = details[0] if details else {"field": "(body)", "message": "invalid"}
    if errors and errors[0].get("type") == "json_invalid":
        return "request body is not valid JSON", details
    if errors and errors[0].get("type") == "extra_forbidden":
        first["message"] = "unknown field"
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{first['field']}: {first['message']}{more}", details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ExecutorError)
    async def executor_error(request: Request, exc: ExecutorError) -> JSONResponse:
        status = _status_of(exc)
        if status >= 500:
            logger.error("unhandled %s: %s", type(exc).__name__, exc.message)
        return error_response(status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _describe_validation(list(exc.errors()))
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
