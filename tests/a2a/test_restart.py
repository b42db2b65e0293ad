"""The API restarts mid-task (the worker keeps running): the task is still there for
GetTask, SubscribeToTask picks up its stream, and a waiting task can still be approved."""

from __future__ import annotations

from pathlib import Path

from a2a.types import (
    GetTaskRequest,
    SubscribeToTaskRequest,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
)

from tests.a2a.conftest import (
    a2a_client,
    a2a_config,
    answer_text,
    collect,
    drop,
    send,
    send_request,
    slow_stream,
    user_message,
    worker_only,
)
from tests.conftest import running_stack
from tests.fakes.server import FakeServer


async def test_api_restart_mid_task(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path)
    words = " ".join(f"w{i}" for i in range(80))
    await slow_stream(openai_fake, 0.08)
    async with worker_only(data):
        async with running_stack(data, worker=False) as before:
            async with a2a_client(before.url) as client:
                stream = client.send_message(send_request(user_message(f"{words} [no tools]")))
                seen = await collect(stream, limit=5)
                await drop(stream)
                streaming = seen[0]
                assert isinstance(streaming, Task)
            async with a2a_client(before.url, streaming=False) as client:
                message = user_message("Weather in Oslo?", metadata={"require_approval": True})
                waiting = await send(client, message)
                assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED

        async with running_stack(data, worker=False) as after:  # a new API, same port
            async with a2a_client(after.url) as client:
                task = await client.get_task(GetTaskRequest(id=streaming.id))
                assert task.status.state == TaskState.TASK_STATE_WORKING
                assert task.context_id == streaming.context_id

                events = await collect(client.subscribe(SubscribeToTaskRequest(id=streaming.id)))
                snapshot = events[0]
                assert isinstance(snapshot, Task)
                chunks = [e for e in events if isinstance(e, TaskArtifactUpdateEvent)]
                streamed = "".join(c.artifact.parts[0].text for c in chunks if not c.last_chunk)
                final = f"Echo: {words} [no tools]"
                assert answer_text(snapshot) + streamed == final
                assert chunks[-1].artifact.parts[0].text == final
                assert events[-1].status.state == TaskState.TASK_STATE_COMPLETED

            async with a2a_client(after.url, streaming=False) as client:
                paused = await client.get_task(GetTaskRequest(id=waiting.id))
                assert paused.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
                done = await send(client, user_message("approve", task_id=waiting.id))
                assert done.status.state == TaskState.TASK_STATE_COMPLETED
                assert "sunny" in answer_text(done)
