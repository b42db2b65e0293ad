"""SendMessage (blocking and not), SendStreamingMessage, GetTask, ListTasks, CancelTask and
SubscribeToTask, with the official a2a-sdk client against the running service."""

from __future__ import annotations

import pytest
from a2a.helpers import get_data_parts, get_message_text
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Role,
    SubscribeToTaskRequest,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatusUpdateEvent,
)
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import TaskNotCancelableError, UnsupportedOperationError

from tests.a2a.conftest import (
    a2a_client,
    answer_text,
    collect,
    drop,
    send,
    send_request,
    slow_stream,
    user_message,
    wait_for,
)
from tests.conftest import Stack, fake_requests
from tests.fakes.server import FakeServer

WORKING = TaskState.TASK_STATE_WORKING
COMPLETED = TaskState.TASK_STATE_COMPLETED


def states(events: list[object]) -> list[TaskState]:
    return [e.status.state for e in events if isinstance(e, Task | TaskStatusUpdateEvent)]


async def test_send_blocking_and_get(a2a_stack: Stack, transport: str) -> None:
    async with a2a_client(a2a_stack.url, streaming=False, transport=transport) as client:
        task = await send(client, user_message("Hello there [no tools]"))
        assert task.status.state == COMPLETED
        assert task.context_id and task.id
        assert answer_text(task) == "Echo: Hello there [no tools]"
        assert [m.role for m in task.history] == [Role.ROLE_USER, Role.ROLE_AGENT]
        assert get_message_text(task.history[0]) == "Hello there [no tools]"
        assert task.metadata.fields["usage"].struct_value.fields["totalTokens"].number_value > 0

        again = await client.get_task(GetTaskRequest(id=task.id))
        assert again.status.state == COMPLETED
        assert answer_text(again) == answer_text(task)
        assert [m.message_id for m in again.history] == [m.message_id for m in task.history]
        last = await client.get_task(GetTaskRequest(id=task.id, history_length=1))
        assert [m.role for m in last.history] == [Role.ROLE_AGENT]
        none = await client.get_task(GetTaskRequest(id=task.id, history_length=0))
        assert list(none.history) == []

    # the REST task is the same task
    rest = (await a2a_stack.http.get(f"/api/v1/tasks/{task.id}")).json()
    assert rest["status"] == "completed" and rest["session_id"] == task.context_id


async def test_stream_status_and_artifact_chunks(a2a_stack: Stack, transport: str) -> None:
    async with a2a_client(a2a_stack.url, transport=transport) as client:
        events = await collect(client.send_message(send_request(user_message("Weather in Paris?"))))
    first = events[0]
    assert isinstance(first, Task) and first.status.state == TaskState.TASK_STATE_SUBMITTED
    assert get_message_text(first.history[0]) == "Weather in Paris?"
    seen = states(events)
    assert seen[0] == TaskState.TASK_STATE_SUBMITTED and seen[1] == WORKING
    updates = [e for e in events[1:] if isinstance(e, TaskStatusUpdateEvent)]
    stamps = [s.status.timestamp.ToDatetime() for s in [first, *updates]]
    assert stamps == sorted(stamps)
    assert seen[-1] == COMPLETED and set(seen[1:-1]) == {WORKING}
    # the tool call and its result come as working updates with a message
    messages = [e.status.message for e in events[1:] if isinstance(e, TaskStatusUpdateEvent)]
    data = [d for m in messages for d in get_data_parts(m.parts)]
    ((call,),) = [d["toolCalls"] for d in data if "toolCalls" in d]
    assert call["name"] == "get_weather" and call["arguments"] == {"query": "Weather in Paris?"}
    (result,) = [d["toolResult"] for d in data if "toolResult" in d]
    assert result["toolCallId"] == call["id"] and result["isError"] is False
    assert any("sunny" in str(m.parts) for m in messages)

    chunks = [e for e in events if isinstance(e, TaskArtifactUpdateEvent)]
    final = chunks[-1]
    assert final.last_chunk and not final.append
    answer = final.artifact.parts[0].text
    assert answer.startswith("Tool results: get_weather=") and "sunny" in answer
    streamed = chunks[:-1]
    assert streamed and not streamed[0].append and all(c.append for c in streamed[1:])
    assert "".join(c.artifact.parts[0].text for c in streamed) == answer
    assert len({c.artifact.artifact_id for c in chunks}) == 1
    assert all(e.task_id == first.id for e in events[1:])


async def test_send_non_blocking_then_poll(a2a_stack: Stack) -> None:
    async with a2a_client(a2a_stack.url, streaming=False, polling=True) as client:
        task = await send(client, user_message("Quick one [no tools]"))
        assert task.status.state in (TaskState.TASK_STATE_SUBMITTED, WORKING)

        async def done() -> Task | None:
            current = await client.get_task(GetTaskRequest(id=task.id))
            return current if current.status.state == COMPLETED else None

        finished = await wait_for(done)
        assert answer_text(finished) == "Echo: Quick one [no tools]"


async def test_second_turn_in_the_same_context(a2a_stack: Stack, openai_fake: FakeServer) -> None:
    async with a2a_client(a2a_stack.url, streaming=False) as client:
        first = await send(client, user_message("My name is Ada. [no tools]"))
        second = await send(
            client, user_message("What is my name? [no tools]", context_id=first.context_id)
        )
        assert second.id != first.id and second.context_id == first.context_id
        assert second.status.state == COMPLETED
        # Its own history is its own turn; the LLM saw the whole conversation.
        assert [get_message_text(m) for m in second.history] == [
            "What is my name? [no tools]",
            "Echo: What is my name? [no tools]",
        ]
        last = (await fake_requests(openai_fake))[-1]["messages"]
        assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]
        assert last[1]["content"] == "My name is Ada. [no tools]"
        assert last[2]["content"] == "Echo: My name is Ada. [no tools]"

        listed = await client.list_tasks(ListTasksRequest(context_id=first.context_id))
        assert [t.id for t in listed.tasks] == [second.id, first.id]  # newest first
        assert listed.total_size == 2 and listed.page_size == 2

        # an ended task takes no more messages: the conversation goes on in a new task
        with pytest.raises(UnsupportedOperationError, match="contextId"):
            await send(client, user_message("more?", task_id=first.id))


async def test_list_tasks_filters_and_pages(a2a_stack: Stack) -> None:
    async with a2a_client(a2a_stack.url, streaming=False) as client:
        context = "list-ctx"
        ids = [
            (await send(client, user_message(f"n{i} [no tools]", context_id=context))).id
            for i in range(3)
        ]
        page = await client.list_tasks(ListTasksRequest(context_id=context, page_size=2))
        assert [t.id for t in page.tasks] == ids[:0:-1]
        assert page.total_size == 3 and page.next_page_token
        assert all(not t.history and not t.artifacts for t in page.tasks)
        rest = await client.list_tasks(
            ListTasksRequest(
                context_id=context,
                page_size=2,
                page_token=page.next_page_token,
                history_length=1,
                include_artifacts=True,
            )
        )
        assert [t.id for t in rest.tasks] == [ids[0]] and rest.next_page_token == ""
        assert (
            len(rest.tasks[0].history) == 1 and answer_text(rest.tasks[0]) == "Echo: n0 [no tools]"
        )
        completed = await client.list_tasks(ListTasksRequest(context_id=context, status=COMPLETED))
        assert completed.total_size == 3
        failed = await client.list_tasks(
            ListTasksRequest(context_id=context, status=TaskState.TASK_STATE_FAILED)
        )
        assert failed.total_size == 0 and list(failed.tasks) == []


async def test_cancel_while_waiting_for_approval(a2a_stack: Stack, transport: str) -> None:
    async with a2a_client(a2a_stack.url, streaming=False, transport=transport) as client:
        message = user_message("Weather in Lima?", metadata={"require_approval": True})
        task = await send(client, message)
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        cancelled = await client.cancel_task(CancelTaskRequest(id=task.id))
        assert cancelled.id == task.id
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(CancelTaskRequest(id=task.id))
        again = await client.get_task(GetTaskRequest(id=task.id))
        assert again.status.state == TaskState.TASK_STATE_CANCELED


async def test_cancel_while_working(
    a2a_stack: Stack, openai_fake: FakeServer, transport: str
) -> None:
    await slow_stream(openai_fake, 0.2)
    async with a2a_client(
        a2a_stack.url, streaming=False, polling=True, transport=transport
    ) as client:
        words = " ".join(f"word{i}" for i in range(60))
        task = await send(client, user_message(f"{words} [no tools]"))

        async def working() -> bool:
            current = await client.get_task(GetTaskRequest(id=task.id))
            return current.status.state == WORKING

        await wait_for(working)
        cancelled = await client.cancel_task(CancelTaskRequest(id=task.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        events = await a2a_stack.events(task.id)
        assert events[-1]["event"] == "task.cancelled"


async def test_resubscribe_after_a_dropped_stream(
    a2a_stack: Stack, openai_fake: FakeServer, transport: str
) -> None:
    await slow_stream(openai_fake, 0.05)
    words = " ".join(f"w{i}" for i in range(40))
    async with a2a_client(a2a_stack.url, transport=transport) as client:
        stream = client.send_message(send_request(user_message(f"{words} [no tools]")))
        before = await collect(stream, limit=6)  # the Task, working, a few chunks
        await drop(stream)  # the connection drops mid-answer
        task_id = before[0].id

        after = await collect(client.subscribe(SubscribeToTaskRequest(id=task_id)))
        snapshot = after[0]
        assert isinstance(snapshot, Task) and snapshot.status.state == WORKING
        partial = answer_text(snapshot)
        assert partial.startswith("Echo: w0")
        chunks = [e for e in after if isinstance(e, TaskArtifactUpdateEvent)]
        streamed = "".join(c.artifact.parts[0].text for c in chunks if not c.last_chunk)
        assert all(c.append for c in chunks if not c.last_chunk)
        final = chunks[-1].artifact.parts[0].text
        assert partial + streamed == final == f"Echo: {words} [no tools]"
        assert states(after)[-1] == COMPLETED

        with pytest.raises(UnsupportedOperationError):
            await collect(client.subscribe(SubscribeToTaskRequest(id=task_id)))


async def test_http_json_transport(a2a_stack: Stack) -> None:
    async with a2a_client(
        a2a_stack.url, streaming=False, transport=TransportProtocol.HTTP_JSON
    ) as client:
        task = await send(client, user_message("Over REST [no tools]"))
        assert task.status.state == COMPLETED
        assert answer_text(task) == "Echo: Over REST [no tools]"
        again = await client.get_task(GetTaskRequest(id=task.id))
        assert again.id == task.id
    async with a2a_client(a2a_stack.url, transport=TransportProtocol.HTTP_JSON) as client:
        events = await collect(
            client.send_message(send_request(user_message("Streamed over REST [no tools]")))
        )
        assert states(events)[0] == TaskState.TASK_STATE_SUBMITTED
        assert states(events)[-1] == COMPLETED
