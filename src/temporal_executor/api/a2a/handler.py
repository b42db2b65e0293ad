"""The A2A request handler: every A2A call, over our durable state.

We implement the SDK's `RequestHandler` directly rather than use its `DefaultRequestHandler`:
that one keeps each running task in this process (an in-memory `ActiveTask` fed by the
executor, with its own copy of the task), which is lost when the API restarts and can
disagree with what the workflow has recorded. Here every answer is a fold of the task's
durable event log (`TaskView`), so GetTask, ListTasks, streams, resubscription and push
notifications agree, and all of them work on a task started before a restart. The SDK's
routes still do the protocol work: JSON-RPC (1.0 names, 0.3 names through its compat
adapter), HTTP+JSON, SSE, error objects.

Every call acts in one tenant (`tenancy.py`): the parts it uses are that tenant's, so a task
of another tenant is not found.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator

from a2a.server.agent_execution import RequestContext
from a2a.server.context import ServerCallContext
from a2a.server.events import Event as A2AEvent
from a2a.server.request_handlers import RequestHandler, validate_request_params
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    Part,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
)
from a2a.utils.errors import (
    ExtendedAgentCardNotConfiguredError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from a2a.utils.proto_utils import validate_proto_required_fields
from a2a.utils.task import apply_history_length, validate_history_length

from ...kagent.hitl import DECISION_TEXT, hitl_payload
from ...observability import subscribed
from ..bodies import ID_PATTERN
from .hitl import hitl_requested
from .push import PushNotifier
from .tenancy import A2ATenants, TenantA2A
from .view import TERMINAL, TaskView, ends_stream

__all__ = ["TemporalRequestHandler"]

CANCEL_WAIT = 10.0  # seconds CancelTask waits for the workflow to confirm


class TemporalRequestHandler(RequestHandler):
    """A2A calls on `TaskService` tasks, each in its tenant (`tenants.acting`): the tenant's
    executor starts / resumes / cancels and relays, its store reads; `push` keeps webhooks
    (None: push notifications are off); `accept_task_ids`: a message whose `taskId` names no
    task starts one with that id; `ended_not_found`: SubscribeToTask on a task that has ended
    is TaskNotFound (kagent's gateway), not UnsupportedOperation (the spec)."""

    def __init__(
        self,
        tenants: A2ATenants,
        push: PushNotifier | None,
        *,
        accept_task_ids: bool = False,
        ended_not_found: bool = False,
    ) -> None:
        self.tenants = tenants
        self.push = push
        self.accept_task_ids = accept_task_ids
        self.ended_not_found = ended_not_found

    # --- messages ----------------------------------------------------------------------------

    async def on_message_send(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> Task | Message:
        _validate_send(params)
        a2a = self.tenants.acting(context, params)
        view = await self._start(a2a, params, context)
        if not params.configuration.return_immediately:
            events = a2a.executor.turn(view)
            try:
                async for _ in events:
                    pass  # the turn's events; the answer is the task as it stands at the end
            finally:
                await events.aclose()
        return _trimmed(view.snapshot(), params)

    async def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[A2AEvent]:
        _validate_send(params)
        a2a = self.tenants.acting(context, params)
        view = await self._start(a2a, params, context)
        yield _trimmed(view.snapshot(), params)
        events = a2a.executor.turn(view)
        try:
            with subscribed("a2a"):
                async for event in events:
                    yield _trimmed(event, params) if isinstance(event, Task) else event
        finally:
            await events.aclose()

    async def _start(
        self, a2a: TenantA2A, params: SendMessageRequest, context: ServerCallContext
    ) -> TaskView:
        """Check the ids, register a push config, start or resume the task: the task as it
        stood, to relay its events from (errors raise before any stream). A task's log is
        read once here, and followed from there."""
        validate_history_length(params.configuration)
        message = params.message
        current = None
        if message.task_id:
            try:
                current = await a2a.store.view(message.task_id, hitl=hitl_requested(context))
            except TaskNotFoundError:
                if not self.accept_task_ids:
                    raise TaskNotFoundError(f"no task with id {message.task_id!r}") from None
                if not re.match(ID_PATTERN, message.task_id):
                    raise InvalidParamsError(
                        f"taskId {message.task_id!r} names no task, and is no valid id for "
                        f"a new one ({ID_PATTERN})"
                    ) from None
            if current and message.context_id and message.context_id != current.task.context_id:
                raise InvalidParamsError(
                    f"contextId {message.context_id!r} is not the context of task "
                    f"{message.task_id!r} ({current.task.context_id!r})"
                )
        request = RequestContext(
            context,
            request=params,
            task_id=message.task_id or None,
            context_id=current.task.context_id if current else message.context_id or None,
            task=current.snapshot() if current else None,
        )
        task_id, context_id = params.message.task_id, params.message.context_id
        pushed = None
        if params.configuration.HasField("task_push_notification_config"):
            if self.push is None:
                raise PushNotificationNotSupportedError
            config = params.configuration.task_push_notification_config
            pushed = await self.push.set(a2a, task_id, config, context)
        try:
            view = await a2a.executor.start(request, current)
        except BaseException:
            if self.push is not None and pushed is not None and current is None:
                await self.push.configs.delete_info(a2a.tasks.key(task_id), context, pushed.id)
            raise
        # A new task has a config only if this request set one: no store read for the others.
        if self.push is not None and (
            pushed is not None
            or (
                current is not None
                and await self.push.configs.get_info_for_dispatch(a2a.tasks.key(task_id))
            )
        ):
            hitl = hitl_requested(context)
            self.push.watch(a2a, task_id, context_id, hitl=hitl, from_start=current is None)
        return view

    # --- tasks -------------------------------------------------------------------------------

    @validate_request_params
    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext) -> Task:
        validate_history_length(params)
        a2a = self.tenants.acting(context, params)
        view = await a2a.store.view(params.id, hitl=hitl_requested(context))
        return apply_history_length(view.snapshot(), params)

    @validate_request_params
    async def on_list_tasks(
        self, params: ListTasksRequest, context: ServerCallContext
    ) -> ListTasksResponse:
        return await self.tenants.acting(context, params).store.list(params, context)

    @validate_request_params
    async def on_cancel_task(self, params: CancelTaskRequest, context: ServerCallContext) -> Task:
        a2a = self.tenants.acting(context, params)
        hitl = hitl_requested(context)
        events = a2a.executor.stop(params.id, hitl=hitl)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CANCEL_WAIT):
                async for _ in events:
                    pass
        await events.aclose()
        return (await a2a.store.view(params.id, hitl=hitl)).snapshot()

    @validate_request_params
    async def on_subscribe_to_task(
        self, params: SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[A2AEvent]:
        a2a = self.tenants.acting(context, params)
        view = await a2a.store.view(params.id, hitl=hitl_requested(context))
        if view.state in TERMINAL:
            error = TaskNotFoundError if self.ended_not_found else UnsupportedOperationError
            raise error(f"task {params.id!r} has ended: read it with GetTask instead")
        yield view.snapshot()
        with subscribed("a2a"):
            async for event in a2a.executor.relay(view):
                yield event
                if ends_stream(event):
                    return

    # --- push notification configs -----------------------------------------------------------

    @validate_request_params
    async def on_create_task_push_notification_config(
        self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        push = self._push()
        a2a = self.tenants.acting(context, params)
        view = await a2a.store.view(params.task_id, hitl=hitl_requested(context))
        stored = await push.set(a2a, params.task_id, params, context)
        if view.state not in TERMINAL:
            push.watch(a2a, params.task_id, view.task.context_id, hitl=view.hitl, from_start=False)
        return stored

    @validate_request_params
    async def on_get_task_push_notification_config(
        self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        for config in await self._configs(params, context):
            if config.id == params.id:
                return config
        raise TaskNotFoundError(
            f"task {params.task_id!r} has no push notification config {params.id!r}"
        )

    @validate_request_params
    async def on_list_task_push_notification_configs(
        self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        configs = await self._configs(params, context)
        return ListTaskPushNotificationConfigsResponse(configs=configs)

    @validate_request_params
    async def on_delete_task_push_notification_config(
        self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        await self._configs(params, context)
        key = self.tenants.acting(context, params).tasks.key(params.task_id)
        await self._push().configs.delete_info(key, context, params.id)

    async def on_get_extended_agent_card(
        self, params: GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> AgentCard:
        self.tenants.acting(context, params)  # another tenant's card is not there either
        raise ExtendedAgentCardNotConfiguredError("this agent has no extended card")

    def _push(self) -> PushNotifier:
        if self.push is None:
            raise PushNotificationNotSupportedError
        return self.push

    async def _configs(
        self,
        params: (
            GetTaskPushNotificationConfigRequest
            | ListTaskPushNotificationConfigsRequest
            | DeleteTaskPushNotificationConfigRequest
        ),
        context: ServerCallContext,
    ) -> list[TaskPushNotificationConfig]:
        """The configs of the task `params` names, that this caller set (TaskNotFound for
        a task its tenant has not)."""
        push = self._push()
        a2a = self.tenants.acting(context, params)
        if await a2a.store.get(params.task_id, context) is None:
            raise TaskNotFoundError(f"no task with id {params.task_id!r}")
        return await push.configs.get_info(a2a.tasks.key(params.task_id), context)


def _validate_send(params: SendMessageRequest) -> None:
    """The SDK's check of the required fields, except that a decision of kagent's HITL
    extension may come without parts: kagent's Python runtime sends them so (to the agents it
    calls as tools), though A2A 1.0 wants a message to have one."""
    message = params.message
    if not message.parts and hitl_payload(message) is not None:
        checked = SendMessageRequest()
        checked.CopyFrom(params)
        checked.message.parts.append(Part(text=DECISION_TEXT))
        params = checked
    validate_proto_required_fields(params)


def _trimmed(event: A2AEvent, params: SendMessageRequest) -> Task:
    assert isinstance(event, Task)
    return apply_history_length(event, params.configuration)
