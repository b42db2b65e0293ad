"""What `/openapi.json` says about the REST routes' answers: the error body, the statuses each
route can answer (`errors(...)`, given where the route is declared) and the success bodies
that are not a route's `response_model`.

The statuses come from the one error table (`errors.py`); `tests/api/test_openapi.py` checks
that every route the app serves is described, and that every error a route answers is
documented on it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..tasks import TaskStatus

__all__ = [
    "SSE_EVENT",
    "Accepted",
    "AnswerAccepted",
    "ApprovalAccepted",
    "CancelAccepted",
    "ErrorBody",
    "ErrorDetail",
    "Readiness",
    "errors",
]

# When each status is answered (the codes are those of `errors.py`).
_WHEN = {
    400: "the request cannot be run as sent (`invalid_request`, `unknown_provider`, "
    "`provider_not_configured`, `invalid_tool`; `unsupported_content`: an image or file of a "
    "media type this server or the task's model does not take)",
    401: "auth is on and the bearer token is missing or unknown (`unauthorized`); a "
    "webhook's signature is missing or wrong (`invalid_signature`)",
    403: "the key lacks the scope this call needs (`forbidden`; `details.scope` names it)",
    404: "no such task, session, schedule or trigger (`task_not_found`, `session_not_found`, "
    "`schedule_not_found`, `trigger_not_found`): none of the caller's tenant; or `X-Tenant` "
    "names a tenant the key may not act in (`tenant_not_found`); or no such artifact or file "
    "of the task (`content_not_found`)",
    409: "the task, session, schedule or trigger is not in a state that allows this, or its "
    "id is taken (`conflict`)",
    413: "the body is over `server.max_body_bytes` (`body_too_large`)",
    415: "the body is not sent as JSON (`unsupported_media_type`)",
    422: "malformed JSON, a wrong type, a missing or unknown field, a parameter out of its "
    "bounds (`invalid_request`; `message` names the field); edited tool arguments that break "
    "the tool's parameter schema (`invalid_arguments`)",
    503: "Temporal did not answer (`temporal_unavailable`), or the task's workflow cannot make "
    "progress now (`task_unavailable`: its workflow task fails)",
}
AUTH = (401, 403)
BODY = (413, 415, 422)

# One Server-Sent Event, as a `text/event-stream` answer's `schema` describes it before
# OpenAPI 3.2 (whose `itemSchema` says the same): its fields as the SSE format has them.
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "id": {"type": "string", "description": "the event's number; resume with Last-Event-ID"},
        "event": {"type": "string", "description": "its type (`task.started`, `llm.delta`, …)"},
        "data": {"type": "string", "description": "its data, as JSON"},
    },
}


class ErrorDetail(BaseModel):
    code: str = Field(description="what went wrong, e.g. `task_not_found`")
    message: str = Field(description="one line naming the field or id concerned")
    details: Any = Field(default=None, description="more, per code: the fields, the task")


class ErrorBody(BaseModel):
    """Every error of the REST API."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer `statuses` (and 401/403 when auth is on)."""
    return {
        status: {"model": ErrorBody, "description": _WHEN[status]}
        for status in sorted({*AUTH, *statuses})
    }


class Accepted(BaseModel):
    """A task started (or found: the same `task_id` posted again)."""

    task_id: str
    workflow_id: str
    session_id: str
    status: TaskStatus


class ApprovalAccepted(BaseModel):
    """The decision taken, as sent."""

    model_config = ConfigDict(extra="allow")

    task_id: str
    workflow_id: str


class AnswerAccepted(BaseModel):
    """The answers taken, as sent."""

    task_id: str
    workflow_id: str
    answers: list[list[str]]
    id: str | None = None


class CancelAccepted(BaseModel):
    task_id: str
    workflow_id: str
    cancel_requested: bool


class Readiness(BaseModel):
    status: str = Field(description="`ready` or `not ready`")
    version: str = Field(description="the package version answering")
    build_id: str = Field(description="its build id (Worker Versioning's, when on)")
    checks: dict[str, str] = Field(description='per dependency: "ok" or the error')
