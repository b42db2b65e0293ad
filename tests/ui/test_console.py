"""The web console in a real browser (Debian's chromium) against the whole service: a task
that needs approval shows up in the inbox, is approved (or rejected, or its arguments edited)
from the page, and its answer streams into the Task page."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from playwright.async_api import expect

from tests.conftest import Stack, enqueue, fake_requests, weather_tool
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import calls_to, wait_status
from tests.integration.test_agent_tools import ASKS_THE_HELPER, agent_tool, child, until
from tests.ui.conftest import TEMPORAL_UI, screenshot

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
__all__ = ["child"]  # a fixture: another service, whose agent the tasks here call


async def slow_stream(openai_fake: FakeServer, delay: float) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(openai_fake.base_url + "/_fake/config", json={"chunk_delay": delay})


async def needs_approval(stack: Stack, tool_server: FakeServer, task_id: str, **body: Any) -> None:
    await stack.execute(
        task_id=task_id,
        session_id=f"s-{task_id}",
        user_message="What is the weather in Paris this afternoon, please?",
        model_config=MODEL,
        tools=[weather_tool(tool_server)],
        require_approval=True,
        **body,
    )
    await wait_status(stack, task_id, "awaiting_approval")


def decision(page: Any, task_id: str) -> Any:
    return page.locator(f'section.decision[data-task-id="{task_id}"]')


async def test_approve_from_the_inbox_and_watch_the_answer_stream(
    console: Stack, page: Any, browser: Any, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    await needs_approval(console, tool_server, "ui-approve")
    await page.goto(console.url + "/ui/approvals")
    card = decision(page, "ui-approve")
    await expect(card).to_be_visible()
    await expect(card.locator(".tool")).to_have_text("get_weather")
    editor = card.get_by_label("Arguments (JSON; edit before approving)")
    await expect(editor).to_have_value(
        '{\n  "query": "What is the weather in Paris this afternoon, please?"\n}'
    )
    await expect(page.locator("#approvals-count")).to_have_text("1")
    await screenshot(page, "approvals")

    # The Task page, open in a second tab, shows the wait and then the streamed answer.
    watcher = await page.context.new_page()
    await watcher.goto(console.url + "/ui/tasks/ui-approve")
    await expect(watcher.locator("#status")).to_have_text("awaiting approval")
    await expect(watcher.locator("#stream-state")).to_have_text("live")
    await slow_stream(openai_fake, 0.15)
    # Record what the answer's bubble shows while its LLM call is still streaming.
    await watcher.evaluate(
        """() => {
            window.partial = [];
            new MutationObserver(() => {
                const turn = [...document.querySelectorAll('.turn.assistant')].pop();
                if (turn && turn.getAttribute('aria-busy') === 'true') {
                    window.partial.push(turn.querySelector('.text').textContent);
                }
            }).observe(document.querySelector('#conversation'),
                       {subtree: true, childList: true, characterData: true});
        }"""
    )

    await card.get_by_role("button", name="Approve").click()
    await expect(page.locator("#notice")).to_have_text("Task ui-approve: approved 1 tool call.")
    await expect(card).to_have_count(0)
    await expect(page.locator("#empty")).to_be_visible()

    bubble = watcher.locator(".turn.assistant").last
    await expect(bubble).to_contain_text('"forecast":"sunny"', timeout=20_000)
    await expect(watcher.locator("#status")).to_have_text("completed", timeout=20_000)
    await expect(bubble).not_to_have_attribute("aria-busy", "true")
    tool = watcher.locator("details.tool-call")
    await expect(tool.locator(".tool-state")).to_have_text("done")
    await tool.locator("summary").click()
    await expect(tool.locator("pre.result")).to_contain_text("sunny")
    await expect(watcher.locator(".turn.note.ok").first).to_have_text("Approved")
    final = (await console.task("ui-approve"))["result"]["content"]
    await expect(bubble.locator(".text")).to_have_text(final)
    # Token by token: ever longer beginnings of the answer, shown before it was complete.
    partial = [text for text in await watcher.evaluate("window.partial") if text]
    assert all(final.startswith(text) for text in partial), (partial, final)
    assert len({text for text in partial if len(text) < len(final)}) >= 5, partial
    assert partial == sorted(partial, key=len)
    usage = (await console.task("ui-approve"))["usage"]
    await expect(watcher.locator("#usage")).to_contain_text(str(usage["total_tokens"]))
    await expect(watcher.locator("#cancel")).to_be_hidden()
    await expect(watcher.get_by_role("link", name="Open in the Temporal UI")).to_have_attribute(
        "href", f"{TEMPORAL_UI}/namespaces/default/workflows/agent-execution-ui-approve"
    )
    await screenshot(watcher, "task")
    assert [c["arguments"] for c in await calls_to(tool_server)] == [
        {"query": "What is the weather in Paris this afternoon, please?"}
    ]


async def test_reject_with_a_reason(
    console: Stack, page: Any, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    await needs_approval(console, tool_server, "ui-reject")
    await page.goto(console.url + "/ui/tasks/ui-reject")
    card = decision(page, "ui-reject")  # the Task page offers the same decision
    await card.get_by_label("Reason (sent to the model when you reject)").fill("not in Paris")
    await expect(page.locator(".turn.note.waiting")).to_have_text(
        "Waiting for approval: get_weather"
    )
    await screenshot(page, "task-awaiting-approval")
    await card.get_by_role("button", name="Reject").click()
    await expect(page.locator("#notice")).to_have_text("Task ui-reject: rejected 1 tool call.")
    await expect(page.locator("#status")).to_have_text("completed", timeout=20_000)
    await expect(page.locator(".turn.note.warn").first).to_have_text("Rejected: not in Paris")
    assert await calls_to(tool_server) == []
    last = (await fake_requests(openai_fake))[-1]["messages"][-1]
    assert last["role"] == "tool" and "not in Paris" in last["content"]


async def test_bad_json_shows_an_error_and_sends_nothing(
    console: Stack, page: Any, tool_server: FakeServer
) -> None:
    await needs_approval(console, tool_server, "ui-bad-json")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/api/v1/approve/" in r.url else None)
    await page.goto(console.url + "/ui/approvals")
    card = decision(page, "ui-bad-json")
    editor = card.get_by_label("Arguments (JSON; edit before approving)")
    await editor.fill('{"query": "Paris",')
    await card.get_by_role("button", name="Approve").click()
    problem = card.locator(".call .error")
    await expect(problem).to_contain_text("Not valid JSON")
    await expect(editor).to_have_attribute("aria-invalid", "")
    await expect(editor).to_be_focused()
    await editor.fill('["Paris"]')
    await card.get_by_role("button", name="Approve").click()
    await expect(problem).to_have_text("The arguments must be a JSON object, not array")
    await screenshot(page, "approvals-bad-json")
    await asyncio.sleep(0.5)
    assert sent == []
    assert (await console.task("ui-bad-json"))["status"] == "awaiting_approval"

    await page.get_by_label("Tool", exact=True).fill("another_tool")
    await page.get_by_role("button", name="Filter").click()
    await expect(card).to_have_count(0)
    await expect(page.locator("#empty")).to_be_visible()
    assert page.url.endswith("/ui/approvals?tool=another_tool")
    await page.goto(console.url + "/ui/approvals?tool=get_weather&session_id=s-ui-bad-json")
    await expect(page.get_by_label("Session", exact=True)).to_have_value("s-ui-bad-json")
    await expect(card).to_be_visible()


async def test_another_agents_call_is_decided_from_the_inbox(
    console: Stack, child: Stack, page: Any, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    await enqueue(openai_fake, [ASKS_THE_HELPER])
    await console.execute(
        task_id="ui-nested",
        user_message="Ask the helper",
        model_config=MODEL,
        tools=[agent_tool(child.url)],
    )
    state = await until(console, "ui-nested", "awaiting_approval")
    nested = state["pending_approval"]["nested"]
    await page.goto(console.url + "/ui/approvals")
    card = decision(page, "ui-nested")
    await expect(card.locator(".nested")).to_have_text(
        f"Asked by agent helper (its task {nested['task_id']}), which this task called as a tool"
    )
    await expect(card.locator(".tool")).to_have_text(["helper", "get_weather"])
    editor = card.get_by_label("Arguments (the agent's, as it asked)")
    await expect(editor).to_have_attribute("readonly", "")
    await expect(card.get_by_text("Approve and stop asking")).to_be_hidden()
    await screenshot(page, "approvals-nested")

    await card.get_by_role("button", name="Approve").click()
    await expect(page.locator("#notice")).to_have_text("Task ui-nested: approved 1 tool call.")
    await page.goto(console.url + "/ui/tasks/ui-nested")
    await expect(page.locator("#status")).to_have_text("completed")
    await expect(page.locator(".turn.note.waiting")).to_have_text(
        "Waiting for approval: get_weather (asked by agent helper)"
    )
    tool = page.locator("details.tool-call")
    await tool.locator("summary").click()
    child_answer = (await child.task(nested["task_id"]))["result"]["content"]
    await expect(tool.locator("pre.progress")).to_have_text(child_answer)
    await expect(tool.locator("pre.result")).to_have_text(child_answer)
    await screenshot(page, "task-nested")
    assert len(await calls_to(tool_server)) == 1
