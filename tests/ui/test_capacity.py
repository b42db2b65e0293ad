"""The Task page of a task whose LLM call waits for capacity (its provider answered 429, and
the provider's limits share that with every call): the page says which limit it waits for,
and stops saying so once the call went through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.conftest import enqueue, running_stack
from tests.fakes.server import FakeServer
from tests.ui.conftest import console_config, screenshot


async def test_the_task_page_shows_a_wait_for_capacity(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path, page: Any
) -> None:
    data = console_config(temporal, openai_fake, tool_server, tmp_path)
    data["llm"]["providers"][0]["limits"] = {"concurrency": 4}
    await enqueue(openai_fake, [{"status": 429, "headers": {"retry-after": "4"}}])
    async with running_stack(data) as console:
        await console.execute(
            task_id="ui-capacity",
            user_message="hello",
            model_config={"provider": "openai", "model": "gpt-4o-mini"},
        )
        await page.goto(console.url + "/ui/tasks/ui-capacity")
        badge = page.locator("#capacity")
        await expect(badge).to_have_text("waiting for capacity (llm:openai)")
        await expect(page.locator(".turn.note.waiting")).to_have_text(
            "Waiting for capacity (llm:openai): the provider answered 429"
        )
        await screenshot(page, "task-waiting-for-capacity")
        await expect(page.locator("#status")).to_have_text("completed", timeout=20_000)
        await expect(badge).to_be_hidden()
