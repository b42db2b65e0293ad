"""Edited arguments: checked in the browser against the tool's schema (the console's small
validator, run in chromium), refused with the field named and nothing sent, or sent and run."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import expect

from tests.conftest import Stack, weather_tool
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import calls_to, wait_status
from tests.ui.conftest import screenshot
from tests.ui.test_console import MODEL, decision

SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 2},
        "units": {"enum": ["C", "F"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "places": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["query"],
    "additionalProperties": False,
}


async def check(page: Any, value: Any) -> list[str]:
    problems: list[str] = await page.evaluate(
        """async ([value, schema]) => {
            const { validate } = await import('/ui/static/schema.js');
            return validate(value, schema);
        }""",
        [value, SCHEMA],
    )
    return problems


async def test_the_browser_checks_arguments_against_the_schema(console: Stack, page: Any) -> None:
    await page.goto(console.url + "/ui/login")
    assert await check(page, {"query": "Paris", "units": "C", "days": 3, "places": ["a"]}) == []
    assert await check(page, {}) == ['arguments: missing required field "query"']
    assert await check(page, {"query": 5}) == ["query: expected string, got integer"]
    assert await check(page, {"query": "P"}) == ["query: at least 2 characters"]
    assert await check(page, {"query": "Paris", "units": "K"}) == ['units: must be one of "C", "F"']
    assert await check(page, {"query": "Paris", "days": 1.5}) == [
        "days: expected integer, got number"
    ]
    assert await check(page, {"query": "Paris", "days": 9}) == ["days: must be at most 7"]
    assert await check(page, {"query": "Paris", "places": ["a", 2]}) == [
        "places[1]: expected string, got integer"
    ]
    assert await check(page, {"query": "Paris", "city": "x"}) == ["city: not a field of this tool"]
    assert await check(page, []) == ["arguments: expected object, got array"]


async def test_edit_arguments_before_approving(
    console: Stack, page: Any, tool_server: FakeServer
) -> None:
    tool = {
        "name": "get_weather",
        "description": "Weather for a place",
        "parameters": SCHEMA,
        "type": "http",
        "config": {"endpoint": tool_server.base_url + "/weather"},
    }
    await console.execute(
        task_id="ui-edit",
        user_message="Weather in Paris?",
        model_config=MODEL,
        tools=[tool],
        require_approval=True,
    )
    await wait_status(console, "ui-edit", "awaiting_approval")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/api/v1/approve/" in r.url else None)
    await page.goto(console.url + "/ui/approvals")
    card = decision(page, "ui-edit")
    editor = card.get_by_label("Arguments (JSON; edit before approving)")
    await editor.fill(json.dumps({"query": "Lyon", "units": "K"}))
    await card.get_by_role("button", name="Approve").click()
    await expect(card.locator(".call .error")).to_have_text(
        'Does not fit the tool\'s schema: units: must be one of "C", "F"'
    )
    await screenshot(page, "approvals-schema-error")
    assert sent == []

    await editor.fill(json.dumps({"query": "Lyon", "units": "C"}))
    await card.get_by_role("button", name="Approve").click()
    await expect(page.locator("#notice")).to_have_text("Task ui-edit: approved 1 tool call.")
    await wait_status(console, "ui-edit", "completed")
    assert [c["arguments"] for c in await calls_to(tool_server)] == [
        {"query": "Lyon", "units": "C"}
    ]
    assert len(sent) == 1


async def test_approve_and_stop_asking_for_the_session(
    console: Stack, page: Any, tool_server: FakeServer
) -> None:
    tool = weather_tool(tool_server)
    body = {"session_id": "ui-s-remember", "model_config": MODEL, "tools": [tool]}
    await console.execute(
        task_id="ui-remember-1", user_message="Paris?", require_approval=True, **body
    )
    await wait_status(console, "ui-remember-1", "awaiting_approval")
    await page.goto(console.url + "/ui/approvals")
    card = decision(page, "ui-remember-1")
    await card.get_by_label("Approve and stop asking", exact=False).check()
    await card.get_by_role("button", name="Approve").click()
    await expect(page.locator("#notice")).to_have_text("Task ui-remember-1: approved 1 tool call.")
    await wait_status(console, "ui-remember-1", "completed")

    # The next turn's call of the same tool runs without asking, and the page says so.
    await console.execute(
        task_id="ui-remember-2", user_message="Lyon?", require_approval=True, **body
    )
    await page.goto(console.url + "/ui/tasks/ui-remember-2")
    await expect(page.locator("#status")).to_have_text("completed", timeout=20_000)
    await expect(page.locator(".turn.note.ok").first).to_have_text(
        "Approved automatically (session)"
    )
    assert len(await calls_to(tool_server)) == 2
