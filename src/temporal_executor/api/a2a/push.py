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

Configs live in this process's memory, as do the followers: an API restart forgets them
(the task itself, and GetTask / SubscribeToTask, survive it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
from a2a.server.context import ServerCallContext
from a2a.server.events import Event as A2AEvent
from a2a.server.tasks import InMemoryPushNotificationConfigStore
from a2a.types import TaskArtifactUpdateEvent, TaskPushNotificationConfig, TaskStatusUpdateEvent
from a2a.utils.errors import InvalidParamsError
from a2a.utils.proto_utils import to_stream_response
from google.protobuf.json_format import MessageToDict

from ...config import A2APushConfig
from ...errors import ToolError
from ...tools.guard import AddressGuard, UnresolvableHost
from .executor import TemporalAgentExecutor
from .view import TERMINAL, TaskView

__all__ = ["PushNotifier"]

logger = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 429})


class PushNotifier:
    """Push notification configs (set, read, delete) and their delivery."""

    def __init__(
        self, executor: TemporalAgentExecutor, settings: A2APushConfig, guard: AddressGuard
    ) -> None:
        self.executor = executor
        self.settings = settings
        self.guard = guard
        self.configs = InMemoryPushNotificationConfigStore()
        self._followers: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None

    async def set(
        self, task_id: str, config: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        """Store `config` for the task after checking its URL (`InvalidParamsError`)."""
        try:
            await self.guard.resolve(config.url)
        except UnresolvableHost as exc:
            logger.warning("push notification url for task %s: %s", task_id, exc.message)
        except ToolError as exc:
            raise InvalidParamsError(f"push notification url: {exc.message}") from None
        return await self.configs.set_info(task_id, config, context)

    def watch(self, task_id: str, context_id: str, *, hitl: bool, from_start: bool) -> None:
        """Deliver the task's events to its webhooks from now on (from its first event when
        `from_start`), unless that happens already."""
        if task_id in self._followers:
            return
        follower = asyncio.create_task(
            self._follow(task_id, context_id, hitl=hitl, from_start=from_start),
            name=f"a2a-push-{task_id}",
        )
        self._followers[task_id] = follower
        follower.add_done_callback(lambda _: self._followers.pop(task_id, None))

    async def aclose(self) -> None:
        for follower in list(self._followers.values()):
            follower.cancel()
        for follower in list(self._followers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        if self._http is not None:
            await self._http.aclose()

    # --- delivery ------------------------------------------------------------------------------

    async def _follow(self, task_id: str, context_id: str, *, hitl: bool, from_start: bool) -> None:
        try:
            if from_start:
                view = TaskView(task_id, context_id, hitl=hitl)
            else:
                view = await self.executor.store.view(task_id, hitl=hitl)
            async for event in self.executor.relay(view):
                if isinstance(event, TaskStatusUpdateEvent) or (
                    isinstance(event, TaskArtifactUpdateEvent) and event.last_chunk
                ):
                    for config in await self.configs.get_info_for_dispatch(task_id):
                        await self._deliver(config, event)
                if view.state in TERMINAL and isinstance(event, TaskStatusUpdateEvent):
                    return
        except Exception:
            logger.exception("push notifications for task %s stopped", task_id)

    async def _deliver(self, config: TaskPushNotificationConfig, event: A2AEvent) -> bool:
        body = MessageToDict(to_stream_response(event))
        headers = {"Content-Type": "application/json"}
        if config.token:
            headers["X-A2A-Notification-Token"] = config.token
        if config.HasField("authentication") and config.authentication.credentials:
            auth = config.authentication
            headers["Authorization"] = f"{auth.scheme} {auth.credentials}"
        delay = self.settings.initial_interval
        for attempt in range(1, self.settings.max_attempts + 1):
            outcome = await self._post(config.url, headers, body)
            if outcome is True:
                return True
            if outcome is False or attempt == self.settings.max_attempts:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.maximum_interval)
        logger.warning(
            "push notification to %s for task %s not delivered", config.url, config.task_id
        )
        return False

    async def _post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> bool | None:
        """True: delivered; False: refused for good; None: worth another try."""
        try:
            resolved = await self.guard.resolve(url)
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
