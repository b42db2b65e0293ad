"""`ask_user` over REST: the model asks, the task parks (`awaiting_input`), a person answers
with `POST /api/v1/tasks/{id}/answer`, and the model reads the answers as the call's result."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Stack, enqueue, fake_requests
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import MODEL, types, wait_status

ASK_USER = {"name": "ask_user", "type": "builtin"}
QUESTIONS = [
    {"question": "Which database?", "choices": ["PostgreSQL", "SQLite"]},
    {"question": "Which features?", "choices": ["auth", "caching", "search"], "multiple": True},
]


def asks(questions: list[dict[str, Any]]) -> dict[str, Any]:
    arguments = json.dumps({"questions": questions})
    return {"tool_calls": [{"name": "ask_user", "arguments": arguments, "id": "ask-1"}]}


async def answer(stack: Stack, task_id: str, **body: Any) -> Any:
    return await stack.http.post(f"/api/v1/tasks/{task_id}/answer", json=body)


async def test_ask_user_round_trip(stack: Stack, openai_fake: FakeServer) -> None:
    await enqueue(openai_fake, [asks(QUESTIONS)])
    await stack.execute(
        task_id="ask-1", user_message="Set up my app", model_config=MODEL, tools=[ASK_USER]
    )
    task = await wait_status(stack, "ask-1", "awaiting_input")
    assert task["pending_input"]["id"] == "ask-1"
    assert [q["question"] for q in task["pending_input"]["questions"]] == [
        "Which database?",
        "Which features?",
    ]
    listed = await stack.http.get("/api/v1/tasks", params={"status": "awaiting_input"})
    assert [t["task_id"] for t in listed.json()["tasks"]] == ["ask-1"]

    wrong_count = await answer(stack, "ask-1", answers=[["PostgreSQL"]])
    assert wrong_count.status_code == 400
    assert "expected 2 answer list(s)" in wrong_count.json()["error"]["message"]
    two_for_one = await answer(stack, "ask-1", answers=[["PostgreSQL", "SQLite"], ["auth"]])
    assert two_for_one.status_code == 400
    assert "takes one answer" in two_for_one.json()["error"]["message"]
    empty = await answer(stack, "ask-1", answers=[["PostgreSQL"], []])
    assert empty.status_code == 400
    stale = await answer(stack, "ask-1", answers=[["x"], ["y"]], id="ask-0")
    assert stale.status_code == 409

    given = [["PostgreSQL"], ["auth", "caching"]]
    response = await answer(stack, "ask-1", answers=given, id="ask-1")
    assert response.status_code == 200, response.text
    assert response.json()["answers"] == given
    duplicate = await answer(stack, "ask-1", answers=given)
    assert duplicate.status_code == 409

    events = await stack.events("ask-1")
    assert types(events) == [
        "task.started",
        "llm.message",
        "tool.call",
        "input.required",
        "input.answered",
        "tool.result",
        "llm.message",
        "task.completed",
    ]
    required = next(e for e in events if e["event"] == "input.required")["data"]
    assert required["id"] == "ask-1" and required["questions"][1]["multiple"] is True
    answered = next(e for e in events if e["event"] == "input.answered")["data"]
    assert answered["answers"] == given
    result = next(e for e in events if e["event"] == "tool.result")["data"]
    assert json.loads(result["content"]) == [
        {"question": "Which database?", "answer": ["PostgreSQL"]},
        {"question": "Which features?", "answer": ["auth", "caching"]},
    ]
    done = await stack.task("ask-1")
    assert done["status"] == "completed" and done["pending_input"] is None
    # The model read the answers: the fake answers with the tool results it was sent.
    assert "PostgreSQL" in done["result"]["content"]
    # The model was offered ask_user with the built-in's schema.
    offered = (await fake_requests(openai_fake))[0]["tools"][0]["function"]
    assert offered["name"] == "ask_user"
    assert offered["parameters"]["required"] == ["questions"]


async def test_wait_returns_when_the_task_asks(stack: Stack, openai_fake: FakeServer) -> None:
    await enqueue(openai_fake, [asks(QUESTIONS[:1])])
    body = {"user_message": "Set up my app", "model_config": MODEL, "tools": [ASK_USER]}
    response = await stack.http.post("/api/v1/execute?wait=true", json=body)
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "awaiting_input"
    assert task["pending_input"]["questions"][0]["choices"] == ["PostgreSQL", "SQLite"]


async def test_bad_questions_are_the_models_error(stack: Stack, openai_fake: FakeServer) -> None:
    await enqueue(openai_fake, [asks([{"question": ""}])])
    await stack.execute(
        task_id="ask-bad", user_message="Ask me", model_config=MODEL, tools=[ASK_USER]
    )
    events = await stack.events("ask-bad")
    assert "input.required" not in types(events)
    result = next(e for e in events if e["event"] == "tool.result")["data"]
    assert result["is_error"] is True and "questions.0.question" in result["content"]
    assert (await stack.task("ask-bad"))["status"] == "completed"


async def test_answer_when_nothing_is_asked(stack: Stack) -> None:
    await stack.execute(task_id="ask-none", user_message="hi", model_config=MODEL)
    await stack.events("ask-none")
    response = await answer(stack, "ask-none", answers=[["x"]])
    assert response.status_code == 409
    missing = await answer(stack, "no-such-task", answers=[["x"]])
    assert missing.status_code == 404
