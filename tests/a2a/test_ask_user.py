"""`ask_user` over A2A: the task goes input-required with the model's questions; the client
answers with kagent's extension (`ask_user_response`), or, without it, in plain text."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from a2a.helpers import get_data_parts, get_message_text
from a2a.types import Task, TaskState, TaskStatusUpdateEvent
from a2a.utils.errors import InvalidParamsError, UnsupportedOperationError

from temporal_executor.api.a2a.hitl import HITL_EXTENSION_URI
from tests.a2a.conftest import (
    a2a_client,
    a2a_config,
    answer_text,
    collect,
    send,
    send_request,
    user_message,
)
from tests.a2a.test_approval import hitl_payload
from tests.conftest import Stack, enqueue, running_stack
from tests.fakes.server import FakeServer

INPUT_REQUIRED = TaskState.TASK_STATE_INPUT_REQUIRED
COMPLETED = TaskState.TASK_STATE_COMPLETED
QUESTIONS = [
    {"question": "Which database?", "choices": ["PostgreSQL", "SQLite"]},
    {"question": "Which features?", "choices": ["auth", "caching"], "multiple": True},
]


@pytest.fixture
async def ask_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path)
    data["a2a"]["default_agent"]["tools"] = [{"name": "ask_user", "type": "builtin"}]
    async with running_stack(data) as stack:
        yield stack


async def asks(openai_fake: FakeServer, questions: list[dict[str, Any]]) -> None:
    arguments = json.dumps({"questions": questions})
    await enqueue(openai_fake, [{"tool_calls": [{"name": "ask_user", "arguments": arguments}]}])


def ask_answer(task: Task, payload: dict[str, Any]) -> Any:
    return user_message(
        "Answered questions",
        task_id=task.id,
        context_id=task.context_id,
        extensions=[HITL_EXTENSION_URI],
        metadata={HITL_EXTENSION_URI: {"type": "ask_user_response", **payload}},
    )


async def test_kagent_ask_user(ask_stack: Stack, openai_fake: FakeServer) -> None:
    await asks(openai_fake, QUESTIONS)
    async with a2a_client(ask_stack.url, hitl=True) as client:
        events = await collect(client.send_message(send_request(user_message("Set me up"))))
        paused = events[-1]
        assert isinstance(paused, TaskStatusUpdateEvent) and paused.status.state == INPUT_REQUIRED
        text = get_message_text(paused.status.message)
        assert text == "Which database?; Which features?"  # kagent's hint for ask_user
        request = hitl_payload(paused.status.message)
        assert request["type"] == "ask_user_request"
        assert [q["question"] for q in request["questions"]] == [
            "Which database?",
            "Which features?",
        ]
        assert request["questions"][1]["multiple"] is True
        task = events[0]
        assert isinstance(task, Task)

        stale = ask_answer(
            task, {"id": "call_0", "answers": [{"answer": ["x"]}, {"answer": ["y"]}]}
        )
        with pytest.raises(InvalidParamsError, match="stale"):
            await collect(client.send_message(send_request(stale)))
        short = ask_answer(task, {"id": request["id"], "answers": [{"answer": ["PostgreSQL"]}]})
        with pytest.raises(InvalidParamsError, match="expected 2 answer"):
            await collect(client.send_message(send_request(short)))

        answers = [{"answer": ["PostgreSQL"]}, {"answer": ["auth", "caching"]}]
        answer = ask_answer(task, {"id": request["id"], "answers": answers})
        resumed = await collect(client.send_message(send_request(answer)))
        assert resumed[-1].status.state == COMPLETED
        final = resumed[-2].artifact.parts[0].text
        assert "PostgreSQL" in final and "caching" in final
        with pytest.raises(UnsupportedOperationError):  # answered already: not input-required
            await collect(client.send_message(send_request(answer)))


async def test_ask_user_in_plain_text(ask_stack: Stack, openai_fake: FakeServer) -> None:
    await asks(openai_fake, QUESTIONS[:1])
    async with a2a_client(ask_stack.url, streaming=False) as client:
        task = await send(client, user_message("Set me up"))
        assert task.status.state == INPUT_REQUIRED
        message = task.status.message
        assert HITL_EXTENSION_URI not in message.extensions  # not asked for
        assert get_message_text(message) == "Which database?"
        (asked,) = get_data_parts(message.parts)
        assert asked["askUser"]["questions"][0]["choices"] == ["PostgreSQL", "SQLite"]

        done = await send(client, user_message("SQLite, please", task_id=task.id))
        assert done.status.state == COMPLETED
        assert "SQLite, please" in answer_text(done)
        answered = done.history[-3]  # …, agent (ask_user call), user (answers), tool, agent
        assert get_message_text(answered) == "SQLite, please"


async def test_several_questions_need_a_line_each(
    ask_stack: Stack, openai_fake: FakeServer
) -> None:
    await asks(openai_fake, QUESTIONS)
    async with a2a_client(ask_stack.url, streaming=False) as client:
        task = await send(client, user_message("Set me up"))
        with pytest.raises(InvalidParamsError, match="each on its own line"):
            await send(client, user_message("PostgreSQL", task_id=task.id))
        done = await send(client, user_message("PostgreSQL\nauth", task_id=task.id))
        assert done.status.state == COMPLETED
        result = next(
            get_data_parts(m.parts)[0]["toolResult"]
            for m in done.history
            if get_data_parts(m.parts) and "toolResult" in get_data_parts(m.parts)[0]
        )
        assert json.loads(result["content"]) == [
            {"question": "Which database?", "answer": ["PostgreSQL"]},
            {"question": "Which features?", "answer": ["auth"]},
        ]
