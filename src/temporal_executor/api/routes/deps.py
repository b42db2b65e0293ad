"""What every route uses: `Api` (the task service, the request checks and the few server
settings routes use, set on the app by `create_app`), the `Deps` dependency that hands it to a
route, and the audit line of a caller's write."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from ...config import DefaultAgent
from ...service import TaskService
from ...tasks import TaskState, workflow_id
from ..auth import Caller
from ..bodies import TaskBody
from ..submission import Submissions

__all__ = ["Api", "Deps", "audit", "logger"]

# One logger for every route's lines (audits, a metrics scrape's trouble): the package's,
# `temporal_executor.api.routes`.
logger = logging.getLogger(__package__)


@dataclass(frozen=True)
class Api:
    """What the routes use. `ui_url`: the Temporal UI, when known; `namespace` is the
    workflows' there."""

    tasks: TaskService
    submissions: Submissions
    default_agent: DefaultAgent
    sse_heartbeat: float
    build_id: str
    ui_url: str | None = None
    namespace: str = "default"

    def ui_link(self, task_id: str) -> str | None:
        """The task's workflow in the Temporal UI (its latest run), when the UI is known."""
        if self.ui_url is None:
            return None
        namespace, workflow = quote(self.namespace, safe=""), quote(workflow_id(task_id), safe="")
        return f"{self.ui_url}/namespaces/{namespace}/workflows/{workflow}"

    def body(self, state: TaskState) -> TaskBody:
        return TaskBody(**dict(state), temporal_ui_url=self.ui_link(state.task_id))


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


Deps = Annotated[Api, Depends(_api)]


def audit(caller: Caller | None, action: str, task_or_session: str) -> None:
    """Who did what, when auth is on (the key's name; never the key)."""
    if caller is not None:
        logger.info("%s %s by key %r", action, task_or_session, caller.name)
