"""Forks and re-runs over A2A (JSON-RPC, the official client): a message with
`referenceTaskIds` and `metadata.fork` forks the named task at a step, its text the edited
user message; `metadata.rerun` runs the task's request again; a fork request without the
task to fork is refused, and so is a fork's message with a file (its edit is text)."""

from __future__ import annotations

import pytest
from a2a.helpers import new_raw_part
from a2a.types import Role, TaskState
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError

from tests.a2a.conftest import a2a_client, answer_text, send, user_message
from tests.conftest import Stack, enqueue
from tests.fakes.samples import PNG
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import calls_to
from tests.integration.test_time_travel import weather_call

COMPLETED = TaskState.TASK_STATE_COMPLETED


async def test_fork_and_rerun_over_a2a(
    a2a_stack: Stack, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    await enqueue(openai_fake, [weather_call("one"), weather_call("two"), weather_call("three")])
    jsonrpc = TransportProtocol.JSONRPC
    async with a2a_client(a2a_stack.url, streaming=False, transport=jsonrpc) as client:
        parent = await send(client, user_message("Weather in three places?"))
        assert parent.status.state == COMPLETED
        assert len(await calls_to(tool_server)) == 3

        asked = user_message("Only Oslo, please", metadata={"fork": {"at_step": 5}})
        asked.reference_task_ids.append(parent.id)
        fork = await send(client, asked)
        assert fork.status.state == COMPLETED and fork.id != parent.id
        assert "Only Oslo, please" in answer_text(fork)
        queries = [c["arguments"]["query"] for c in await calls_to(tool_server)]
        assert queries == ["one", "two", "three", "Only Oslo, please"]  # 0 new for the first two
        assert fork.history[0].role == Role.ROLE_USER

        again = user_message("again", metadata={"rerun": True})
        again.reference_task_ids.append(parent.id)
        rerun = await send(client, again)
        assert rerun.status.state == COMPLETED

        # Both link back to the task they came from (its REST body lists them).
        assert (await a2a_stack.task(parent.id))["forks"] == [fork.id, rerun.id]

        lost = user_message("which one?", metadata={"fork": {"at_step": 1}})
        with pytest.raises(InvalidParamsError, match="referenceTaskIds"):
            await send(client, lost)
        bad = user_message("x", metadata={"fork": {"at_step": "soon"}})
        bad.reference_task_ids.append(parent.id)
        with pytest.raises(InvalidParamsError, match=r"metadata\.fork\.at_step"):
            await send(client, bad)
        nowhere = user_message("x", metadata={"rerun": True})
        nowhere.reference_task_ids.append("no-such-task")
        with pytest.raises(TaskNotFoundError):
            await send(client, nowhere)
        filed = user_message("Look", metadata={"fork": {"at_step": 1}})
        filed.parts.append(new_raw_part(PNG, "image/png", "photo.png"))
        filed.reference_task_ids.append(parent.id)
        with pytest.raises(InvalidParamsError, match="takes no files"):
            await send(client, filed)
