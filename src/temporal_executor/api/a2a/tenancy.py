"""Which tenant an A2A call acts in, and the parts that act for it.

A2A 1.0 names the tenant in the request: the `tenant` field of each request message
(JSON-RPC, gRPC; the SDK puts it in `ServerCallContext.tenant`) or the `/{tenant}/…` path
segment of the HTTP+JSON routes. A call that names no tenant acts in its key's; one that names
another tenant than its key's is answered as for a task that does not exist (TaskNotFound), so
it learns nothing of that tenant. An `admin` key (or anyone, with auth off) acts in the tenant
it names, `default` when none; unlike a REST listing, ListTasks then lists that one tenant
only (A2A tasks carry no tenant to tell the others' apart).

Each call gets a `TenantA2A`: the task store and executor over `TenantTasks`, so every task
id it reads and every task it starts are that tenant's.
"""

from __future__ import annotations

from typing import Any

from a2a.server.context import ServerCallContext

from ...config import DefaultAgent
from ...errors import TenantNotFoundError
from ...service import TaskService
from ...tenant_tasks import TenantTasks
from ...tenants import Tenancy
from ..auth import caller_of, tenancy_of
from ..submission import Submissions
from .errors import a2a_errors
from .executor import TemporalAgentExecutor
from .task_store import ServiceTaskStore
from .view import Links

__all__ = ["A2ATenants", "TenantA2A"]


class TenantA2A:
    """The A2A parts acting for one tenant: its `tasks`, its task `store`, its `executor`."""

    def __init__(
        self,
        tasks: TenantTasks,
        submissions: Submissions,
        default_agent: DefaultAgent,
        links: Links | None = None,
    ) -> None:
        self.tasks = tasks
        self.store = ServiceTaskStore(tasks, links)
        self.executor = TemporalAgentExecutor(tasks, submissions, default_agent, self.store)


class A2ATenants:
    """Makes the `TenantA2A` of a call (`acting`) or of a tenant (`of`) over `service`."""

    def __init__(
        self,
        service: TaskService,
        submissions: Submissions,
        default_agent: DefaultAgent,
        links: Links | None = None,
    ) -> None:
        self.service = service
        self.submissions = submissions
        self.default_agent = default_agent
        self.links = links

    def of(self, tenant: str) -> TenantA2A:
        tasks = TenantTasks(self.service, Tenancy(tenant))
        return TenantA2A(tasks, self.submissions, self.default_agent, self.links)

    def acting(self, context: ServerCallContext, params: Any = None) -> TenantA2A:
        """The parts for the tenant the call acts in (A2A's TaskNotFoundError when it names
        one its key may not act in): named by the context (the request's field, or the
        HTTP+JSON path) and by `params.tenant` (an HTTP+JSON body's); both, if both."""
        named = {context.tenant or "", getattr(params, "tenant", "") or ""} - {""}
        with a2a_errors():
            if len(named) > 1:
                shown = ", ".join(repr(n[:64]) for n in sorted(named))
                raise TenantNotFoundError(f"the request names two tenants: {shown}")
            tenancy = tenancy_of(caller_of(context), next(iter(named), None))
        return self.of(tenancy.tenant)
