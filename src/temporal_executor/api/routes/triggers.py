"""Webhook triggers: the webhook itself (`POST /api/v1/triggers/{name}`, authenticated by
its signature, not a bearer token: `middleware.py` leaves it open; its task is the trigger's
tenant's), and making, listing and deleting triggers (bearer token and scopes, as every other
route; a trigger is its maker's tenant's, and another tenant's is not there for a caller)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import ValidationError

from ...config import Scope
from ...config.triggers import NAME_PATTERN
from ...errors import ConfigError, RequestError, describe_validation
from ...tenant_tasks import TenantTasks
from ...tenants import Tenancy
from ...triggers import (
    TriggerDefinition,
    TriggerService,
    compile_template,
    delivery_id,
    delivery_task_id,
    render,
    verify,
)
from ..auth import CallerDep, requires
from ..automation import TriggerAccepted, TriggerList, TriggerRequest
from ..bodies import ID_PATTERN, ExecuteRequest
from ..openapi import BODY, errors
from ..submission import Submissions
from .deps import Deps, TasksDep, audit
from .tasks import accepted

__all__ = ["check_configured", "router"]

router = APIRouter(tags=["triggers"])

TriggerNamePath = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=64, description="the trigger's name")
]
# The webhook takes any JSON (its template reads it); documented, so clients see it.
_ANY_JSON = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"description": "any JSON"}}},
    },
    "parameters": [
        {
            "name": header,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": text,
        }
        for header, text in (
            ("X-Signature-256", "sha256=<hex HMAC-SHA256 of the body with the secret>"),
            ("X-Hub-Signature-256", "GitHub's name for X-Signature-256"),
            ("X-Delivery-Id", "the delivery's id: sent again, it starts no second task"),
            ("X-GitHub-Delivery", "GitHub's name for X-Delivery-Id"),
        )
    ],
}


@router.post(
    "/api/v1/triggers/{name}",
    status_code=202,
    response_model=TriggerAccepted,
    responses=errors(400, 401, 404, 409, *BODY, 503),
    openapi_extra=_ANY_JSON,
)
async def webhook(name: TriggerNamePath, request: Request, api: Deps) -> dict[str, Any]:
    """Start a task from the trigger's template with this JSON body (its `user_message`
    rendered with `body`), if the body is signed with the trigger's secret. A delivery id
    sent before answers the task it started then."""
    trigger = await api.triggers.get(name)
    raw = await request.body()
    verify(api.triggers.secret(trigger), raw, request.headers)
    try:
        body = json.loads(raw)
    except ValueError:
        raise RequestError("body: not JSON (send the webhook as application/json)") from None
    delivery = delivery_id(request.headers)
    template = trigger.template
    message = render(str(template.get("user_message", "")), body)
    fields = {
        "user_message": message,
        "task_id": delivery_task_id(name, delivery),
        "session_id": trigger.session_id,
    }
    try:
        execute = ExecuteRequest.model_validate({**template, **fields})
    except ValidationError as exc:
        summary, _ = describe_validation(exc)
        raise RequestError(f"the trigger's template, rendered: {summary}") from None
    owner = TenantTasks(api.tasks, Tenancy(trigger.tenant))
    input = api.submissions.prepare(execute, tenant=trigger.tenant).input
    state = await owner.submit(input, named=delivery is not None)
    answer = accepted(api, state, trigger.tenant)
    return {**answer, "trigger": name, "delivery_id": delivery, "tenant": trigger.tenant}


@router.post(
    "/api/v1/triggers",
    status_code=201,
    response_model=TriggerDefinition,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(400, 404, 409, *BODY, 503),
)
async def create_trigger(
    body: TriggerRequest, api: Deps, tasks: TasksDep, caller: CallerDep
) -> TriggerDefinition:
    """Make a trigger of the caller's tenant: `POST /api/v1/triggers/<name>` then starts a
    task of that tenant from its template. Names are one namespace across tenants (the
    webhook's URL names none)."""
    api.submissions.prepare_template(body.template)
    compile_template(body.template.text())
    trigger = await api.triggers.create(body.definition(tasks.tenant))
    audit(caller, "trigger created:", body.name)
    return trigger


@router.get(
    "/api/v1/triggers",
    response_model=TriggerList,
    dependencies=[requires(Scope.READ)],
    responses=errors(404, 422, 503),
)
async def list_triggers(api: Deps, tasks: TasksDep) -> TriggerList:
    """The triggers of the caller's tenant (an `admin` key naming none: of every tenant):
    those of config, then those made through the API (never their secrets)."""
    return TriggerList(triggers=await api.triggers.every(tasks.tenancy.listed))


@router.delete(
    "/api/v1/triggers/{name}",
    status_code=204,
    dependencies=[requires(Scope.WRITE)],
    responses=errors(404, 409, 422, 503),
)
async def delete_trigger(
    name: TriggerNamePath, api: Deps, tasks: TasksDep, caller: CallerDep
) -> Response:
    """Delete a trigger of the caller's tenant made through the API (409 for one of
    config)."""
    await api.triggers.delete(name, tasks.tenant)
    audit(caller, "trigger deleted:", name)
    return Response(status_code=204)


def check_configured(triggers: TriggerService, submissions: Submissions) -> None:
    """Refuse to start (`ConfigError` naming the key) unless every trigger of config has its
    secret in this process's environment and a template this server can run."""
    for name, trigger in triggers.configured.items():
        where = f"config: triggers.{name}"
        if not triggers.environ.get(trigger.secret_env):
            raise ConfigError(
                f"{where}.secret_env: the environment variable {trigger.secret_env} (the "
                "trigger's secret) is not set"
            )
        if trigger.session_id is not None and not re.fullmatch(ID_PATTERN, trigger.session_id):
            raise ConfigError(f"{where}.session_id: not an id: {trigger.session_id!r}")
        try:
            template = ExecuteRequest.model_validate(trigger.template)
        except ValidationError as exc:
            summary, _ = describe_validation(exc)
            raise ConfigError(f"{where}.template.{summary}") from None
        field = f"triggers.{name}.template"
        try:
            submissions.prepare_template(template, field=field)
            compile_template(template.text(), f"{field}.user_message")
        except RequestError as exc:
            raise ConfigError(f"config: {exc.message}") from None
