"""The console's other pages in a real browser: New task from the server's catalog, the Tasks
list live and filtered, questions answered from the inbox, a dropped event stream resumed,
signing in when the server has API keys, the events an earlier release recorded, and the
Schedules page."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from temporal_executor.llm.messages import Usage
from temporal_executor.store import NewEvent
from temporal_executor.tasks import TaskState, TaskStatus
from tests.conftest import Stack, enqueue, fake_requests, weather_tool
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import wait_status
from tests.integration.test_schedules import ended
from tests.ui.conftest import UI_KEY, screenshot
from tests.ui.test_console import MODEL, decision, slow_stream

RELEASE_254AE33 = Path(__file__).parents[1] / "replay" / "releases" / "0.1.0+254ae33"


async def test_new_task_from_the_catalog(
    console: Stack, page: Any, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    await page.goto(console.url + "/ui/new")
    await expect(page.get_by_label("Provider")).to_have_value("openai")
    await expect(page.get_by_label("Model")).to_have_value("gpt-4o-mini")
    await expect(page.get_by_label("get_weather (http)")).to_be_visible()
    await expect(page.get_by_label("calculator (builtin)")).to_be_visible()

    await page.get_by_role("button", name="Start task").click()
    await expect(page.locator("#form-error")).to_have_text("Write a prompt first.")
    await expect(page.get_by_label("Prompt")).to_be_focused()

    await page.get_by_label("Prompt").fill("Weather in Lyon?")
    await page.get_by_label("get_weather (http)").check()
    await page.get_by_label("Require approval for every tool call").check()
    await page.get_by_label("Model").fill("")
    await page.get_by_role("button", name="Start task").click()
    await expect(page.locator("#form-error")).to_have_text("Name a model.")
    await page.get_by_label("Model").fill("gpt-4o-mini")
    await screenshot(page, "new-task")
    await page.get_by_role("button", name="Start task").click()

    await page.wait_for_url("**/ui/tasks/*")
    task_id = page.url.rsplit("/", 1)[1]
    await expect(page.locator("#model")).to_have_text("openai/gpt-4o-mini")
    card = decision(page, task_id)  # the Task page asks for the decision itself
    await card.get_by_role("button", name="Approve").click()
    await expect(page.locator("#status")).to_have_text("completed", timeout=20_000)
    await expect(page.locator(".turn.assistant .text").last).to_contain_text("sunny")
    request = (await fake_requests(openai_fake))[0]
    assert [t["function"]["name"] for t in request["tools"]] == ["get_weather"]


async def test_new_task_shows_the_servers_refusal(console: Stack, page: Any) -> None:
    await page.goto(console.url + "/ui/new")
    await page.get_by_label("Prompt").fill("hello")
    await page.locator("summary", has_text="More").click()
    await page.get_by_label("Max iterations").fill("99")
    await page.get_by_role("button", name="Start task").click()
    await expect(page.locator("#form-error")).to_contain_text(
        "Not started: max_iterations may be at most 5 on this server (400 invalid_request)"
    )
    assert page.url.endswith("/ui/new")


async def test_tasks_page_lists_filters_and_updates_live(console: Stack, page: Any) -> None:
    await console.execute(
        task_id="ui-list-1", session_id="ui-s-one", user_message="first", model_config=MODEL
    )
    await wait_status(console, "ui-list-1", "completed")
    listed = (await console.http.get("/api/v1/tasks", params={"order": "recent"})).json()
    assert [t["task_id"] for t in listed["tasks"]] == ["ui-list-1"], listed
    await page.goto(console.url + "/ui/")
    row = page.locator('tr[data-task-id="ui-list-1"]')
    await expect(row.locator("td").nth(1)).to_have_text("completed")
    await expect(row.locator("td").nth(2)).to_have_text("ui-s-one")
    await expect(row.locator("td").nth(3)).to_have_text("openai/gpt-4o-mini")
    tokens = (await console.task("ui-list-1"))["usage"]["total_tokens"]
    await expect(row.locator("td").nth(4)).to_have_text(str(tokens))
    await expect(row.locator("td").nth(5)).to_have_text(re.compile(r"^\d{1,2} s$"))

    # Live: a task started elsewhere appears without a reload, newest first.
    await console.execute(
        task_id="ui-list-2", session_id="ui-s-two", user_message="second", model_config=MODEL
    )
    await expect(page.locator("tbody tr").first).to_have_attribute("data-task-id", "ui-list-2")
    await screenshot(page, "tasks")
    await page.emulate_media(color_scheme="dark")
    await screenshot(page, "tasks-dark")
    await page.emulate_media(color_scheme="light")

    await page.get_by_label("Session").fill("ui-s-one")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("tbody tr")).to_have_attribute("data-task-id", "ui-list-1")
    assert "session_id=ui-s-one" in page.url
    await page.get_by_label("Status").select_option("failed")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("tbody tr")).to_have_count(0)

    await page.goto(console.url + "/ui/?session_id=ui-s-two")
    await page.locator('tr[data-task-id="ui-list-2"] a').first.click()
    await page.wait_for_url("**/ui/tasks/ui-list-2")
    await expect(page.locator(".turn.assistant .text")).to_have_text("Echo: second")


async def test_questions_answered_from_the_inbox(
    console: Stack, page: Any, openai_fake: FakeServer
) -> None:
    questions = [
        {"question": "Which database?", "choices": ["PostgreSQL", "SQLite"]},
        {"question": "Which features?", "choices": ["auth", "caching"], "multiple": True},
        {"question": "App name?"},
    ]
    arguments = json.dumps({"questions": questions})
    await enqueue(openai_fake, [{"tool_calls": [{"name": "ask_user", "arguments": arguments}]}])
    await console.execute(
        task_id="ui-ask",
        user_message="Set up my app",
        model_config=MODEL,
        tools=[{"name": "ask_user", "type": "builtin"}],
    )
    await wait_status(console, "ui-ask", "awaiting_input")
    await page.goto(console.url + "/ui/approvals")
    form = page.locator('form.questions[data-task-id="ui-ask"]')
    await form.get_by_label("PostgreSQL").check()
    await form.get_by_label("auth").check()
    await form.get_by_label("caching").check()
    await form.get_by_role("button", name="Send answers").click()
    await expect(form.locator(".error")).to_have_text('Answer question 3: "App name?".')
    await form.get_by_label("App name?").fill("shop")
    await screenshot(page, "approvals-questions")
    await form.get_by_role("button", name="Send answers").click()
    await expect(page.locator("#notice")).to_have_text("Task ui-ask: answers sent.")
    task = await wait_status(console, "ui-ask", "completed")
    assert "shop" in task["result"]["content"]
    last = (await fake_requests(openai_fake))[-1]["messages"][-1]
    assert json.loads(last["content"]) == [
        {"question": "Which database?", "answer": ["PostgreSQL"]},
        {"question": "Which features?", "answer": ["auth", "caching"]},
        {"question": "App name?", "answer": ["shop"]},
    ]


async def test_a_dropped_stream_resumes_after_the_last_event(
    console: Stack, page: Any, openai_fake: FakeServer
) -> None:
    resumed: list[str | None] = []
    page.on(
        "request",
        lambda r: resumed.append(r.headers.get("last-event-id")) if "/events" in r.url else None,
    )
    await slow_stream(openai_fake, 0.1)
    words = " ".join(f"word{i}" for i in range(30))
    await console.execute(task_id="ui-drop", user_message=words, model_config=MODEL)
    await page.goto(console.url + "/ui/tasks/ui-drop")
    await expect(page.locator(".turn.assistant .text")).to_contain_text("word3 ")
    await page.evaluate("window.temporalExecutorConsole.dropStream()")
    await expect(page.locator("#status")).to_have_text("completed", timeout=20_000)
    await expect(page.locator("#stream-state")).to_have_text("ended")
    # Exactly the answer: nothing shown twice, nothing lost across the reconnect.
    await expect(page.locator(".turn.assistant .text")).to_have_text(f"Echo: {words}")
    assert resumed[0] is None and len(resumed) >= 2
    assert resumed[1] is not None and int(resumed[1]) >= 2
    await expect(page.locator(".turn.user")).to_have_count(1)


async def test_sign_in_with_a_token(secured_console: Stack, page: Any) -> None:
    await secured_console.execute(task_id="ui-secret-1", user_message="hi", model_config=MODEL)
    await page.goto(secured_console.url + "/ui/approvals")
    await page.wait_for_url("**/ui/login?next=%2Fui%2Fapprovals")
    await expect(page.locator("#login-message")).to_have_text(
        "This server needs an API token. Sign in to continue."
    )
    await expect(page.get_by_label("API token")).to_be_focused()
    await page.get_by_label("API token").fill("wrong")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#login-error")).to_have_text(
        "That token was refused (401). Check it and try again."
    )
    await screenshot(page, "login")
    await page.get_by_label("API token").fill(UI_KEY)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/ui/approvals")
    await page.get_by_role("link", name="Tasks", exact=True).click()
    await expect(page.locator('tr[data-task-id="ui-secret-1"]')).to_be_visible()

    # A token the server stops accepting sends the person back with a clear message.
    await page.evaluate("sessionStorage.setItem('temporal-executor.token', 'revoked')")
    await page.goto(secured_console.url + "/ui/tasks/ui-secret-1")
    await page.wait_for_url("**/ui/login?next=*")
    await expect(page.locator("#login-message")).to_have_text(
        "The server refused your token (401). Sign in again."
    )


async def test_decisions_recorded_by_release_0_1_0_254ae33_read_as_they_were(
    console: Stack, page: Any
) -> None:
    """That release's `approval.decided` is the decision as given (`approved`, `tool_calls`),
    without `calls`: an approval, a rejection and a decision call by call, as its recorded
    updates were, each read for what it was."""
    said = {
        scenario: next(_update_arguments(RELEASE_254AE33 / f"{scenario}.0.json"))
        for scenario in ("approval", "rejection", "per_call")
    }
    asked = {"approval": ["call_1"], "rejection": ["call_2"], "per_call": ["call_5", "call_6"]}
    events = [("task.started", {"session_id": "ui-old", "user_message": "look it up"})]
    for scenario, ids in asked.items():
        calls = [{"id": i, "name": "get_weather", "arguments": {}} for i in ids]
        events += [
            ("approval.required", {"tool_calls": calls}),
            ("approval.decided", said[scenario]),
        ]
    events.append(("task.completed", {"usage": {}, "iterations": 3, "result": {"content": "ok"}}))
    store = console.services.store
    done = TaskState(task_id="ui-old", session_id="ui-old", status=TaskStatus.COMPLETED)
    await store.tasks.save(done)
    await store.events.append_all(
        "ui-old", [NewEvent(f"wf:{n}", type, data) for n, (type, data) in enumerate(events, 1)]
    )
    await page.goto(console.url + "/ui/tasks/ui-old")
    await expect(page.locator(".turn.note.ok")).to_have_text(["Approved", "Completed"])
    await expect(page.locator(".turn.note.warn")).to_have_text(
        ["Rejected: not today", "Decided call by call: one is enough"]
    )


def _update_arguments(path: Path) -> Iterator[dict[str, Any]]:
    """The arguments of the updates a recorded history holds, decoded."""
    for event in json.loads(path.read_text())["events"]:
        if accepted := event.get("workflowExecutionUpdateAcceptedEventAttributes"):
            payload = accepted["acceptedRequest"]["input"]["args"]["payloads"][0]
            yield json.loads(base64.b64decode(payload["data"]))


async def test_schedules_page_lists_pauses_and_resumes(console: Stack, page: Any) -> None:
    """Each schedule with its timetable, state, last run (a link to its task) and next run;
    Pause and Resume act on it."""
    template = {"user_message": "daily digest [no tools]", "model_config": MODEL}
    hourly = {"schedule_id": "ui-hourly", "template": template, "interval": "1h", "paused": True}
    daily = {"schedule_id": "ui-daily", "template": template, "cron": "0 7 * * *"}
    for body in (hourly, {**daily, "time_zone": "Asia/Tokyo"}):
        assert (await console.http.post("/api/v1/schedules", json=body)).status_code == 201
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
    ran = await console.http.post("/api/v1/schedules/ui-hourly/backfill", json=window)
    (time,) = ran.json()["times"]
    task_id = f"ui-hourly-{datetime.fromisoformat(time).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    assert (await ended(console, task_id))["status"] == "completed"

    await page.goto(console.url + "/ui/schedules")
    hourly_row = page.locator('tr[data-schedule-id="ui-hourly"]')
    daily_row = page.locator('tr[data-schedule-id="ui-daily"]')
    await expect(hourly_row.locator("td").nth(1)).to_have_text("every 1h")
    await expect(hourly_row.locator("td").nth(2)).to_have_text("paused")
    await expect(hourly_row.locator("td").nth(3)).to_have_text(task_id)
    await expect(hourly_row.locator("td").nth(4)).to_have_text("\u2013")  # paused: none
    await expect(hourly_row.locator("td").nth(5)).to_have_text("daily digest [no tools]")
    await expect(daily_row.locator("td").nth(1)).to_have_text("cron 0 7 * * * (Asia/Tokyo)")
    await expect(daily_row.locator("td").nth(2)).to_have_text("active")
    await expect(daily_row.locator("td").nth(3)).to_have_text("\u2013")  # no run yet
    await expect(daily_row.locator("td time")).to_have_attribute(
        "datetime", re.compile(r"T22:00:00")
    )
    await screenshot(page, "schedules")

    await daily_row.get_by_role("button", name="Pause").click()
    await expect(page.locator("#notice")).to_have_text("Schedule ui-daily paused.")
    await expect(daily_row.locator("td").nth(2)).to_have_text("paused")
    assert (await console.http.get("/api/v1/schedules/ui-daily")).json()["paused"] is True
    await hourly_row.get_by_role("button", name="Resume").click()
    await expect(hourly_row.locator("td").nth(2)).to_have_text("active")
    await hourly_row.get_by_role("button", name="Pause").click()  # an hourly tick may not wait
    await expect(hourly_row.locator("td").nth(2)).to_have_text("paused")

    await hourly_row.locator("td").nth(3).get_by_role("link").click()
    await page.wait_for_url(re.compile(r"/ui/tasks/ui-hourly-"))  # (its colons encoded)
    await expect(page.locator(".turn.assistant .text")).to_have_text(
        "Echo: daily digest [no tools]"
    )


async def test_a_queued_task_shows_what_it_waits_for_and_its_priority(
    console: Stack, page: Any, tool_server: FakeServer
) -> None:
    body = {"session_id": "ui-queue", "model_config": MODEL}
    tools = [weather_tool(tool_server)]
    await console.execute(
        task_id="ui-ahead", user_message="weather?", tools=tools, require_approval=True, **body
    )
    await wait_status(console, "ui-ahead", "awaiting_approval")
    await console.execute(
        task_id="ui-queued", user_message="then this [no tools]", priority=5,
        concurrent_messages="enqueue", **body,
    )  # fmt: skip
    await wait_status(console, "ui-queued", "queued")

    await page.goto(console.url + "/ui/")
    row = page.locator('tr[data-task-id="ui-queued"]')
    await expect(row.locator("td").nth(1)).to_have_text("queued behind ui-ahead")
    await expect(row.locator("td").nth(6)).to_have_text("5")
    await row.locator("td").nth(1).get_by_role("link", name="ui-ahead").click()
    await page.wait_for_url("**/ui/tasks/ui-ahead")
    await expect(page.locator("#priority")).to_have_text("3 of 5")

    await page.goto(console.url + "/ui/tasks/ui-queued")
    await expect(page.locator("#status")).to_have_text("queued")
    await expect(page.locator("#queued-behind")).to_have_text("ui-ahead")
    await expect(page.locator("#priority")).to_have_text("5 of 5")
    await expect(page.locator(".turn.note").first).to_contain_text("Queued behind task ui-ahead")
    await screenshot(page, "queued-task")
    approve = await console.http.post(
        "/api/v1/approve/agent-execution-ui-ahead", json={"approved": True}
    )
    assert approve.status_code == 200, approve.text
    await expect(page.locator("#status")).to_have_text("completed")
    await expect(page.locator("#queued-fact")).to_be_hidden()


async def test_unknown_usage_and_a_compaction_read_as_such(console: Stack, page: Any) -> None:
    """A task one of whose calls reported no usage shows its tokens as unknown (the list and
    the Task page), never 0; a compaction shows as a note with its summary."""
    store = console.services.store
    usage = Usage(prompt_tokens=40, completion_tokens=5, total_tokens=45, unreported=1, unpriced=1)
    done = TaskState(
        task_id="ui-unknown", session_id="ui-unknown", status=TaskStatus.COMPLETED, usage=usage
    )
    await store.tasks.save(done)
    compacted = {
        "index": 6,
        "first": 0,
        "end": 4,
        "model": "openai/summarizer-1",
        "summary": "Summary: FACT code=Z-1234",
        "tokens_before": 420,
        "tokens_after": 90,
        "usage": None,
    }
    events = [
        ("task.started", {"session_id": "ui-unknown", "user_message": "[recall code]"}),
        ("context.compacted", compacted),
        ("task.completed", {"usage": usage.report().model_dump(), "iterations": 1}),
    ]
    await store.events.append_all(
        "ui-unknown", [NewEvent(f"wf:{n}", type, data) for n, (type, data) in enumerate(events, 1)]
    )
    await page.goto(console.url + "/ui/tasks/ui-unknown")
    await expect(page.locator("#usage")).to_have_text("unknown (1 LLM call reported no usage)")
    note = page.locator(".turn.note.summary")
    await expect(note).to_contain_text(
        "Conversation compacted: messages 0-3 summarized by openai/summarizer-1, ~420 → ~90 tokens"
    )
    await note.locator("summary").click()
    await expect(note.locator(".text")).to_have_text("Summary: FACT code=Z-1234")
    await page.goto(console.url + "/ui/?session_id=ui-unknown")
    row = page.locator('tr[data-task-id="ui-unknown"]')
    await expect(row.locator("td.num").first).to_have_text("unknown")
