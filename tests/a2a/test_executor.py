"""Our `AgentExecutor` under the SDK's contract (`execute` / `cancel` with an event queue),
and the fold of an event log into A2A (`TaskView`): a snapshot at any seq plus the events
after it is what a client watching from the start has seen."""

from __future__ import annotations

import time
from typing import Any

from a2a.server.agent_execution import RequestContext
from a2a.server.context import ServerCallContext
from a2a.server.events import Event as A2AEvent
from a2a.server.events import EventQueue
from a2a.types import Task, TaskArtifactUpdateEvent, TaskState, TaskStatusUpdateEvent

from temporal_executor.api.a2a.executor import TemporalAgentExecutor
from temporal_executor.api.a2a.task_store import ServiceTaskStore
from temporal_executor.api.a2a.view import TaskView
from temporal_executor.tasks import Event
from temporal_executor.tenant_tasks import TenantTasks
from temporal_executor.tenants import Tenancy
from tests.a2a.conftest import send_request, user_message
from tests.conftest import Stack


class Collected(EventQueue):
    def __init__(self) -> None:
        self.events: list[A2AEvent] = []

    async def enqueue_event(self, event: A2AEvent) -> None:
        self.events.append(event)


def executor_of(stack: Stack) -> TemporalAgentExecutor:
    services = stack.services
    default_agent = stack.config.a2a.default_agent
    tasks = TenantTasks(services.tasks, Tenancy())
    store = ServiceTaskStore(tasks)
    return TemporalAgentExecutor(tasks, services.submissions, default_agent, store)


def states(events: list[A2AEvent]) -> list[TaskState]:
    return [e.status.state for e in events if isinstance(e, Task | TaskStatusUpdateEvent)]


async def test_execute_and_cancel_with_an_event_queue(a2a_stack: Stack) -> None:
    executor = executor_of(a2a_stack)
    request = send_request(user_message("Contract test [no tools]"))
    context = RequestContext(ServerCallContext(), request=request)
    queue = Collected()
    await executor.execute(context, queue)
    assert states(queue.events)[0] == TaskState.TASK_STATE_SUBMITTED
    assert states(queue.events)[-1] == TaskState.TASK_STATE_COMPLETED
    ids = {e.id if isinstance(e, Task) else e.task_id for e in queue.events}
    assert ids == {context.task_id}

    waiting = send_request(user_message("Weather?", metadata={"require_approval": True}))
    context = RequestContext(ServerCallContext(), request=waiting)
    queue = Collected()
    await executor.execute(context, queue)
    assert states(queue.events)[-1] == TaskState.TASK_STATE_INPUT_REQUIRED
    cancelled = Collected()
    await executor.cancel(context, cancelled)
    assert states(cancelled.events)[-1] == TaskState.TASK_STATE_CANCELED


def log(*entries: tuple[str, dict[str, Any]]) -> list[Event]:
    now = time.time()
    return [
        Event(task_id="t-1", seq=i, type=kind, data=data, time=now + i)
        for i, (kind, data) in enumerate(entries, start=1)
    ]


EVENTS = log(
    ("task.started", {"session_id": "c-1", "user_message": "hi"}),
    ("llm.delta", {"text": "Hel", "call": "llm:1", "attempt": 1}),
    ("llm.restart", {"call": "llm:1", "attempt": 2}),
    ("llm.delta", {"text": "Hi ", "call": "llm:1", "attempt": 2}),
    ("llm.message", {"content": None, "tool_calls": [{"id": "c1", "name": "f", "arguments": {}}]}),
    ("tool.call", {"id": "c1", "name": "f", "arguments": {}}),
    ("approval.required", {"tool_calls": [{"id": "c1", "name": "f", "arguments": {}}]}),
    ("approval.decided", {"approved": True, "reason": None, "tool_calls": {}}),
    ("tool.result", {"tool_call_id": "c1", "name": "f", "content": "42", "is_error": False}),
    ("llm.delta", {"text": "The answer", "call": "llm:2", "attempt": 1}),
    ("llm.delta", {"text": " is 42", "call": "llm:2", "attempt": 1}),
    ("llm.message", {"content": "The answer is 42", "tool_calls": []}),
    ("task.completed", {"result": {"content": "The answer is 42"}, "usage": {"total_tokens": 9}}),
)


def watched(view: TaskView, events: list[Event]) -> tuple[str, list[TaskState]]:
    """The answer text and the states a client following from `view` ends up with."""
    text = "".join(p.text for a in view.task.artifacts for p in a.parts)
    seen = [view.state]
    for event in events:
        for out in view.apply(event):
            if isinstance(out, TaskArtifactUpdateEvent):
                chunk = out.artifact.parts[0].text
                text = text + chunk if out.append else chunk
            elif isinstance(out, TaskStatusUpdateEvent):
                seen.append(out.status.state)
    return text, seen


def test_snapshot_plus_events_after_it_is_the_whole_story() -> None:
    text, seen = watched(TaskView("t-1", "c-1", hitl=False), EVENTS)
    assert text == "The answer is 42"
    assert seen[0] == TaskState.TASK_STATE_SUBMITTED and seen[-1] == TaskState.TASK_STATE_COMPLETED
    assert TaskState.TASK_STATE_INPUT_REQUIRED in seen
    for cut in range(len(EVENTS) + 1):
        view = TaskView("t-1", "c-1", hitl=False)
        for event in EVENTS[:cut]:
            view.apply(event)
        resumed_text, resumed = watched(view, EVENTS[cut:])
        assert resumed_text == text
        assert resumed[-1] == seen[-1]
    final = view.snapshot()
    assert final.history[0].message_id == "t-1-user"
    assert final.metadata.fields["usage"].struct_value.fields["totalTokens"].number_value == 9
