"""The Task page's time travel in chromium: a finished 3-tool task's steps (side effects
marked), the fork button at its third LLM call with an edited message, the fork's page (its
origin, its answer), the parent's link to it; the tool server counts the calls."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.conftest import Stack
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import calls_to
from tests.integration.test_time_travel import three_tool_task
from tests.ui.conftest import screenshot


async def test_fork_from_the_task_page(
    console: Stack, openai_fake: FakeServer, tool_server: FakeServer, page: Any
) -> None:
    parent = await three_tool_task(console, openai_fake, tool_server)
    await page.goto(f"{console.url}/ui/tasks/{parent}")
    steps = page.locator("#steps > li")
    await expect(steps).to_have_count(7)
    await expect(page.locator("#steps .side-effects")).to_have_count(3)
    await expect(page.locator("#rerun")).to_be_visible()

    step = page.locator('#steps > li[data-step="5"]')
    await step.get_by_role("button", name="Fork from here").click()
    await step.locator("textarea[name=user_message]").fill("Only Lisbon, please")
    await expect(step.locator(".fork-form")).to_contain_text("4 calls not made again")
    await screenshot(page, "task-fork-form")
    await step.get_by_role("button", name="Fork at step 5").click()

    await page.wait_for_url(lambda url: f"/ui/tasks/{parent}" not in url)
    await expect(page.locator("#status")).to_have_text("completed")
    await expect(page.locator("#links")).to_contain_text(f"Forked from {parent} at step 5")
    await expect(page.locator(".turn.assistant").last).to_contain_text("Only Lisbon, please")
    await expect(page.locator("#steps .reused")).to_have_count(4)
    await screenshot(page, "task-fork")
    fork = page.url.rsplit("/", 1)[-1]
    queries = [c["arguments"]["query"] for c in await calls_to(tool_server)]
    assert queries == ["one", "two", "three", "Only Lisbon, please"]

    await page.goto(f"{console.url}/ui/tasks/{parent}")
    await expect(page.locator("#links")).to_contain_text(f"Forks: {fork}")
