"""The console's Task page with files in a real browser: the user's images and files in the
conversation (an image shown, a file as a download) and the task's artifacts."""

from __future__ import annotations

import base64
import re
from typing import Any

from playwright.async_api import expect

from tests.conftest import Stack
from tests.fakes.samples import PNG
from tests.fakes.server import FakeServer
from tests.ui.conftest import screenshot
from tests.ui.test_console import MODEL


async def test_the_task_page_shows_the_users_files_and_the_tasks_artifacts(
    console: Stack, page: Any, tool_server: FakeServer
) -> None:
    chart = {
        "name": "chart",
        "type": "http",
        "config": {"endpoint": tool_server.base_url + "/files/chart.png", "method": "GET"},
    }
    await console.execute(
        task_id="ui-files",
        user_message=[
            {"type": "text", "text": "What is in here?"},
            {
                "type": "image",
                "data": base64.b64encode(PNG).decode(),
                "media_type": "image/png",
                "name": "photo.png",
            },
            {"type": "file", "url": tool_server.base_url + "/files/report.pdf"},
        ],
        model_config=MODEL,
        tools=[chart],
    )
    await page.goto(console.url + "/ui/tasks/ui-files")
    await expect(page.locator("#status")).to_have_text("completed")
    user = page.locator(".turn.user")
    await expect(user.locator("img[alt='photo.png']")).to_be_visible()
    await expect(
        user.get_by_role("link", name=re.compile(r"^report\.pdf \(application.pdf"))
    ).to_be_visible()
    made = page.get_by_role("region", name="Artifacts")
    await expect(made.locator("img[alt='chart.png']")).to_be_visible()
    link = made.get_by_role("link", name=re.compile(r"^chart\.png \(image.png, 67 bytes\)"))
    await expect(link).to_have_attribute("href", re.compile(r"^blob:"))
    await screenshot(page, "task-files")
