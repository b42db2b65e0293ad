"""What every route uses: `Api` (the task, schedule and trigger services, the request checks
and the few server settings routes use, set on the app by `create_app`), the `Deps`
dependency that hands it to a route, `TasksDep` (the tasks as the caller sees them: its
tenant's, `tenant_tasks.py`), and the audit line of a caller's write."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Header, Request

from ...config import DefaultAgent
from ...schedules import ScheduleService
from ...service import TaskService
from ...tasks import TaskState, workflow_id
from ...tenant_tasks import TenantTasks
from ...tenants import DEFAULT_TENANT, TENANT_PATTERN, scoped
from ...triggers import TriggerService
from ..auth import Caller, CallerDep, tenancy_of
from ..bodies import TaskBody
from ..submission import Submissions

__all__ = ["TENANT_HEADER", "Api", "Deps", "TasksDep", "audit", "logger"]

TENANT_HEADER = "X-Tenant"

# One logger for every route's lines (audits, a metrics scrape's trouble): the package's,
# `temporal_executor.api.routes`.
logger = logging.getLogger(__package__)


@dataclass(frozen=True)
class Api:
    """What the routes use. `ui_url`: the Temporal UI, when known; `namespace` is the
    workflows' there."""

    tasks: TaskService
    submissions: Submissions
    schedules: ScheduleService
    triggers: TriggerService
    default_agent: DefaultAgent
    sse_heartbeat: float
    build_id: str
    ui_url: str | None = None
    namespace: str = "default"

    def ui_link(self, task_id: str, tenant: str = DEFAULT_TENANT) -> str | None:
        """The workflow of `tenant`'s task in the Temporal UI (its latest run), when the UI
        is known."""
        if self.ui_url is None:
            return None
        namespace = quote(self.namespace, safe="")
        workflow = quote(workflow_id(scoped(tenant, task_id)), safe="")
        return f"{self.ui_url}/namespaces/{namespace}/workflows/{workflow}"

    def body(self, state: TaskState, tenant: str) -> TaskBody:
        """`tenant`'s task `state` as the API shows it."""
        link = self.ui_link(state.task_id, tenant)
        return TaskBody(**dict(state), temporal_ui_url=link, tenant=tenant)


async def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


Deps = Annotated[Api, Depends(_api)]


async def _tenant_tasks(
    api: Deps,
    caller: CallerDep,
    tenant: Annotated[
        str | None,
        Header(
            alias=TENANT_HEADER,
            pattern=TENANT_PATTERN,
            max_length=64,
            description="the tenant to act in: only an `admin` key (or anyone, with auth off) "
            "may name one but its own; without it, an `admin` key's listings show every "
            "tenant",
        ),
    ] = None,
) -> TenantTasks:
    return TenantTasks(api.tasks, tenancy_of(caller, tenant))


TasksDep = Annotated[TenantTasks, Depends(_tenant_tasks)]
"""A route's tasks, as its caller sees them (a 404 for an `X-Tenant` the key may not name)."""


def audit(caller: Caller | None, action: str, task_or_session: str) -> None:
    """Who did what, when auth is on (the key's name; never the key)."""
    if caller is not None:
        logger.info("%s %s by key %r", action, task_or_session, caller.name)
