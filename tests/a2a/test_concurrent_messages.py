"""A second message to a context whose task has not ended, over A2A (the message's metadata
says `concurrent_messages`): refused as before (`reject`, kagent's behaviour), queued behind
it (`enqueue`), or that task stops and the new message continues the conversation
(`interrupt`), or is cancelled and its turn undone (`rollback`)."""

from __future__ import annotations

import pytest
from a2a.helpers import get_message_text
from a2a.types import GetTaskRequest, Task, TaskState
from a2a.utils.errors import UnsupportedOperationError

from tests.a2a.conftest import a2a_client, answer_text, send, user_message, wait_for
from tests.conftest import Stack, fake_requests
from tests.fakes.server import FakeServer

PARKED = TaskState.TASK_STATE_INPUT_REQUIRED
COMPLETED = TaskState.TASK_STATE_COMPLETED
CANCELED = TaskState.TASK_STATE_CANCELED


def parking(text: str = "Weather in Lima?") -> object:
    """A message whose task waits for approval of its weather call."""
    return user_message(text, metadata={"require_approval": True})


async def test_reject_and_enqueue(a2a_stack: Stack, transport: str) -> None:
    async with (
        a2a_client(a2a_stack.url, streaming=False, transport=transport) as client,
        a2a_client(a2a_stack.url, streaming=False, polling=True, transport=transport) as poller,
    ):
        first = await send(client, parking())
        assert first.status.state == PARKED
        context = first.context_id
        with pytest.raises(UnsupportedOperationError, match="one task at a time"):
            await send(client, user_message("and Quito? [no tools]", context_id=context))
        queued = await send(
            poller,
            user_message(
                "and Quito? [no tools]",
                context_id=context,
                metadata={"concurrent_messages": "enqueue", "priority": 4},
            ),
        )
        assert queued.status.state == TaskState.TASK_STATE_SUBMITTED
        record = await a2a_stack.task(queued.id)
        assert (record["queued_behind"], record["priority"]) == (first.id, 4)

        async def state_of(task: Task) -> TaskState:
            return (await client.get_task(GetTaskRequest(id=task.id))).status.state

        assert await state_of(queued) == TaskState.TASK_STATE_SUBMITTED  # waits its turn
        approved = await send(client, user_message("approve", task_id=first.id))
        assert approved.status.state == COMPLETED

        async def done() -> Task | None:
            task = await client.get_task(GetTaskRequest(id=queued.id))
            return task if task.status.state == COMPLETED else None

        finished = await wait_for(done)
        assert answer_text(finished) == "Echo: and Quito? [no tools]"


@pytest.mark.parametrize("mode", ["interrupt", "rollback"])
async def test_interrupt_or_rollback_continues_the_conversation(
    a2a_stack: Stack, openai_fake: FakeServer, mode: str
) -> None:
    """A task waiting for approval is stopped: interrupted, its turn stays (its call
    refused); rolled back, its turn is undone. (A call in flight:
    tests/integration/test_concurrent_messages.py.)"""
    async with a2a_client(a2a_stack.url, streaming=False) as client:
        first = await send(client, parking())
        assert first.status.state == PARKED
        metadata = {"concurrent_messages": mode}
        second = await send(
            client,
            user_message("skip it [no tools]", context_id=first.context_id, metadata=metadata),
        )
        assert second.status.state == COMPLETED
        assert answer_text(second) == "Echo: skip it [no tools]"
        stopped = await client.get_task(GetTaskRequest(id=first.id))
        assert stopped.status.state == CANCELED
        said = {"interrupt": "interrupted", "rollback": "rolled back"}[mode]
        assert said in get_message_text(stopped.status.message)
        last = (await fake_requests(openai_fake))[-1]["messages"]
        if mode == "interrupt":  # the turn stays: its call, refused, then the new message
            assert [m["role"] for m in last] == ["system", "user", "assistant", "tool", "user"]
            assert "stopped by a new message" in last[3]["content"]
        else:
            assert [(m["role"], m["content"]) for m in last] == [
                ("system", "You are a helpful weather assistant."),
                ("user", "skip it [no tools]"),
            ]
