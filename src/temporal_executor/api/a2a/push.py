"""Push notifications: webhooks that get a task's status changes and its final answer.

Each delivery is an HTTP POST of one A2A `StreamResponse` as JSON (a `statusUpdate`, or the
`artifactUpdate` with the final answer), with `X-A2A-Notification-Token: <token>` and
`Authorization: <scheme> <credentials>` when the config has them. For each task with a
config, one follower relays the task's event log and delivers its events in order; a
delivery that fails with a connection error, a timeout, 408, 429 or 5xx is retried with
backoff (`a2a.push_notifications`), other answers are final. Token deltas are not pushed.

Webhook URLs pass the outbound-address guard (`a2a.push_notifications.allow_private_hosts`)
when a config is set and again at each delivery, and the connection goes to the address that
was checked. A host that does not resolve yet is accepted when set (DNS may be down for a
moment, the receiver not deployed yet) and checked at delivery.

Configs are kept in the store with the task (`push_configs.py`, under the task's key: its id
with its tenant), with the seq of the last event delivered. Each task's events are read as
its tenant sees them (`TenantA2A`), so a webhook gets the ids its tenant knows. A starting
API resumes delivery for the tasks of the last day that have configs and were not delivered
to the end: first how the task stands now, when events went undelivered meanwhile (for an
ended task its answer, then its final status), then what follows. Delivery is at least
once: each POST carries `X-A2A-Notification-Id` (`<task id>:<seq>:status|artifact`, the same
on a retry or a repeat) for receivers to drop duplicates; several API replicas that start
while a task with webhooks runs each deliver its later events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx
from a2a.server.context import ServerCallContext
from a2a.server.events import Event as A2AEvent
from a2a.types import TaskArtifactUpdateEvent, TaskPushNotificationConfig, TaskStatusUpdateEvent
from a2a.utils.errors import InvalidParamsError
from a2a.utils.proto_utils import to_stream_response
from google.protobuf.json_format import MessageToDict

from ...config import A2APushConfig
from ...errors import ToolError
from ...observability import PUSH_DELIVERIES
from ...store import TaskFilter
from ...tenants import split
from ...tools.guard import AddressGuard, UnresolvableHost
from .push_configs import PushConfigs
from .tenancy import A2ATenants, TenantA2A
from .view import TERMINAL, TaskView

__all__ = ["PushNotifier"]

logger = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 429})
# A starting API resumes the deliveries of tasks updated this recently.
RESUME_WINDOW = 86_400.0


class PushNotifier:
    """Delivery of a task's events to its webhooks (`configs`), and setting a config after
    checking its URL. Each method that names a task takes the parts of its tenant (`a2a`)."""

    def __init__(
        self,
        tenants: A2ATenants,
        configs: PushConfigs,
        settings: A2APushConfig,
        guard: AddressGuard,
    ) -> None:
        self.tenants = tenants
        self.configs = configs
        self.settings = settings
        self.guard = guard
        self._followers: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None
        self._resuming: asyncio.Task[None] | None = None

    async def set(
        self,
        a2a: TenantA2A,
        task_id: str,
        config: TaskPushNotificationConfig,
        context: ServerCallContext,
    ) -> TaskPushNotificationConfig:
        """Store `config` for the task after checking its URL (`InvalidParamsError`)."""
        try:
            await self.guard.resolve(config.url)
        except UnresolvableHost as exc:
            logger.warning("push notification url for task %s: %s", task_id, exc.message)
        except ToolError as exc:
            raise InvalidParamsError(f"push notification url: {exc.message}") from None
        return await self.configs.set_info(a2a.tasks.key(task_id), config, context)

    def watch(
        self, a2a: TenantA2A, task_id: str, context_id: str, *, hitl: bool, from_start: bool
    ) -> None:
        """Deliver the task's events to its webhooks from now on (from its first event when
        `from_start`), unless that happens already."""
        work = self._follow(a2a, task_id, context_id, hitl, from_start)
        self._start_follower(a2a.tasks.key(task_id), work)

    def resume(self) -> None:
        """Deliver, in the background, what went undelivered while no API ran."""
        self._resuming = asyncio.create_task(self._resume(), name="a2a-push-resume")

    async def _resume(self) -> None:
        service = self.tenants.service  # every tenant's tasks, by key
        since = time.time() - RESUME_WINDOW
        offset = 0
        try:
            recent = TaskFilter(updated_after=since)
            while page := await service.list_tasks(recent, limit=500, offset=offset):
                offset += len(page)
                for state in page:
                    await self._resume_task(state.task_id)
        except Exception:
            logger.exception("resuming push notifications stopped")

    async def _resume_task(self, key: str) -> None:
        try:
            progress = await self.configs.read(key, "push-progress")
            if progress["watched"] and not progress["finished"]:
                data = await self.configs.read(key)
                if data["configs"]:
                    tenant, task_id = split(key)
                    a2a = self.tenants.of(tenant)
                    work = self._catch_up(a2a, task_id, data["hitl"], progress["delivered"])
                    self._start_follower(key, work)
        except Exception:
            logger.exception("push notifications for task %s not resumed", key)

    def _start_follower(self, key: str, work: Any) -> None:
        if key in self._followers:
            work.close()
            return
        follower = asyncio.create_task(work, name=f"a2a-push-{key}")
        self._followers[key] = follower
        follower.add_done_callback(lambda _: self._followers.pop(key, None))

    async def aclose(self) -> None:
        if self._resuming is not None:
            self._resuming.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._resuming
        for follower in list(self._followers.values()):
            follower.cancel()
        for follower in list(self._followers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        if self._http is not None:
            await self._http.aclose()

    # --- delivery ------------------------------------------------------------------------------

    async def _follow(
        self, a2a: TenantA2A, task_id: str, context_id: str, hitl: bool, from_start: bool
    ) -> None:
        try:
            async with self.configs.edit(a2a.tasks.key(task_id), "push-progress") as progress:
                progress["watched"] = True
            if from_start:
                view = a2a.store.new_view(task_id, context_id, hitl=hitl)
            else:
                view = await a2a.store.view(task_id, hitl=hitl)
                if view.state in TERMINAL:  # it ended in the meantime: say so
                    await self._tell_how_it_stands(a2a, view)
                    return
            await self._relay(a2a, view)
        except Exception:
            logger.exception("push notifications for task %s stopped", a2a.tasks.key(task_id))

    async def _catch_up(self, a2a: TenantA2A, task_id: str, hitl: bool, delivered: int) -> None:
        """After a restart: how the task stands now, when events went undelivered, then what
        follows."""
        try:
            view = await a2a.store.view(task_id, hitl=hitl)
            if view.seq > delivered:
                await self._tell_how_it_stands(a2a, view)
            if view.state not in TERMINAL:
                await self._relay(a2a, view)
        except Exception:
            logger.exception("push notifications for task %s stopped", a2a.tasks.key(task_id))

    async def _tell_how_it_stands(self, a2a: TenantA2A, view: TaskView) -> None:
        """The task's status as it is now; for an ended task its answer first, and the
        status with the usage, as a follower that saw the end would have sent them."""
        task = view.task
        if view.state in TERMINAL and task.artifacts:
            answer = TaskArtifactUpdateEvent(
                task_id=task.id, context_id=task.context_id, append=False, last_chunk=True
            )
            answer.artifact.CopyFrom(task.artifacts[0])
            await self._dispatch(a2a, view, answer)
        status = TaskStatusUpdateEvent(task_id=task.id, context_id=task.context_id)
        status.status.CopyFrom(task.status)
        if view.state in TERMINAL:
            status.metadata.CopyFrom(task.metadata)
        await self._dispatch(a2a, view, status)

    async def _relay(self, a2a: TenantA2A, view: TaskView) -> None:
        async for event in a2a.executor.relay(view):
            if isinstance(event, TaskStatusUpdateEvent) or (
                isinstance(event, TaskArtifactUpdateEvent) and event.last_chunk
            ):
                await self._dispatch(a2a, view, event)
            if view.state in TERMINAL and isinstance(event, TaskStatusUpdateEvent):
                return

    async def _dispatch(self, a2a: TenantA2A, view: TaskView, event: A2AEvent) -> None:
        """Deliver `event` (as of `view.seq`) to each of the task's webhooks; note progress
        (finished: once the terminal status went out, the answer before it is not enough)."""
        task_id, key = view.task.id, a2a.tasks.key(view.task.id)
        status = isinstance(event, TaskStatusUpdateEvent)
        kind = "status" if status else "artifact"
        for config in await self.configs.get_info_for_dispatch(key):
            await self._deliver(config, event, f"{task_id}:{view.seq}:{kind}")
        async with self.configs.edit(key, "push-progress") as progress:
            progress["delivered"] = view.seq
            progress["finished"] = status and view.state in TERMINAL

    async def _deliver(
        self, config: TaskPushNotificationConfig, event: A2AEvent, delivery_id: str
    ) -> bool:
        body = MessageToDict(to_stream_response(event))
        headers = {"Content-Type": "application/json", "X-A2A-Notification-Id": delivery_id}
        if config.token:
            headers["X-A2A-Notification-Token"] = config.token
        if config.HasField("authentication") and config.authentication.credentials:
            auth = config.authentication
            headers["Authorization"] = f"{auth.scheme} {auth.credentials}"
        delay = self.settings.initial_interval
        for attempt in range(1, self.settings.max_attempts + 1):
            outcome = await self._post(config.url, headers, body)
            if outcome is True:
                PUSH_DELIVERIES.labels("delivered").inc()
                return True
            if outcome is False or attempt == self.settings.max_attempts:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.maximum_interval)
        PUSH_DELIVERIES.labels("failed").inc()
        logger.warning(
            "push notification to %s for task %s not delivered", config.url, config.task_id
        )
        return False

    async def _post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> bool | None:
        """True: delivered; False: refused for good; None: worth another try."""
        try:
            resolved = await self.guard.resolve(url)
        except UnresolvableHost as exc:  # DNS may be back by the next try
            logger.info("push notification to %s failed: %s", url, exc.message)
            return None
        except ToolError as exc:
            logger.warning("push notification url refused: %s", exc.message)
            return False
        target = httpx.URL(url)
        extensions: dict[str, Any] = {}
        if resolved.scheme == "https":
            extensions["sni_hostname"] = target.raw_host.decode("ascii").strip("[]").rstrip(".")
        request = self._client().build_request(
            "POST",
            target.copy_with(host=resolved.ip),
            headers={**headers, "Host": target.netloc.decode("ascii")},
            json=body,
            extensions=extensions,
        )
        try:
            response = await self._client().send(request)
        except httpx.TransportError as exc:
            logger.info("push notification to %s failed: %s", url, exc)
            return None
        if response.is_success:
            return True
        logger.info("push notification to %s answered %s", url, response.status_code)
        if response.status_code in _RETRY_STATUS or response.status_code >= 500:
            return None
        return False

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=self.settings.timeout
            )
        return self._http
