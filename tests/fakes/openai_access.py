"""Who may call the OpenAI wire fake: OpenAI's bearer key, and Azure's `api-key` or Entra ID
token on an existing deployment with an `api-version`; errors in each one's shape."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["azure_access", "check_bearer", "error", "error_body"]

_ERROR_TYPES = {401: "invalid_request_error", 429: "requests", 500: "server_error"}
_AZURE_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
_AZURE_NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist. If you created the deployment within "
    "the last 5 minutes, please wait a moment and try again."
)


def check_bearer(request: Request, expected: str | None) -> Response | None:
    """OpenAI's auth: `Authorization: Bearer <key>`, the key `expected` (None: any)."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if expected is not None and key.strip() != expected:
        return error(401, "Incorrect API key provided.", code="invalid_api_key")
    return None


def azure_access(
    request: Request,
    deployment: str,
    api_key: str | None,
    ad_token: str | None,
    deployments: tuple[str, ...] | None,
) -> tuple[Response | None, dict[str, Any]]:
    """Azure's checks (api-version, key or token, deployment) and what was used."""
    api_version = request.query_params.get("api-version")
    if not api_version:
        return _azure_error(404, "404", "Resource not found"), {}
    if "api-key" in request.headers:
        auth = "api-key"
        key = request.headers["api-key"].strip()
        if not key or (api_key is not None and key != api_key):
            return _azure_error(401, "401", _AZURE_DENIED), {}
    else:
        auth = "bearer"
        if denied := check_bearer(request, ad_token):
            return denied, {}
    if deployments is not None and deployment not in deployments:
        return _azure_error(404, "DeploymentNotFound", _AZURE_NO_DEPLOYMENT), {}
    return None, {"deployment": deployment, "api_version": api_version, "auth": auth}


def error_body(status: int, message: str, *, param: str | None = None, code: Any = None) -> Any:
    kind = _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error(status: int, message: str, *, param: str | None = None, code: Any = None) -> Response:
    return JSONResponse(error_body(status, message, param=param, code=code), status_code=status)


def _azure_error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
