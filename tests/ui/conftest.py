"""Browser fixtures: Debian's chromium driven by Playwright (no browser download), the whole
service on a real port, and screenshots written where a reviewer can look at them."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import Stack, config_data, running_stack, weather_tool
from tests.fakes.server import FakeServer

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
SCREENSHOTS = Path(
    os.environ.get("TE_UI_SCREENSHOTS", Path(__file__).parents[2] / "test-artifacts" / "ui")
)
SCREENSHOTS.mkdir(parents=True, exist_ok=True)
# Pages poll every 2 s and the machine may be busy: give each expectation room (it returns
# as soon as it holds; only a failure waits this long).
expect.set_options(timeout=20_000)
TEMPORAL_UI = "http://127.0.0.1:8233"  # only linked to, never called
UI_KEYS_ENV = "TE_TEST_UI_KEYS"
UI_KEY = "ui-test-key-1"


def chromium_path() -> str | None:
    """The system browser: $TE_CHROMIUM, else Debian's `chromium` on PATH."""
    for candidate in (os.environ.get("TE_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium binary on CI: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no chromium binary (apt-get install chromium) for the browser tests")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        await context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def console_config(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> dict[str, Any]:
    """The test config, with the weather tool offered by the default agent (New task)."""
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["temporal"]["ui_url"] = TEMPORAL_UI
    data["a2a"] = {
        "default_agent": {
            "model_config": {"provider": "openai", "model": "gpt-4o-mini"},
            "tools": [weather_tool(tool_server)],
        }
    }
    return data


@pytest.fixture
async def console(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with running_stack(console_config(temporal, openai_fake, tool_server, tmp_path)) as s:
        yield s


@pytest.fixture
async def secured_console(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    """The console of a server with bearer auth on; its `http` sends the key."""
    data = console_config(temporal, openai_fake, tool_server, tmp_path)
    data["server"]["api_keys_env"] = UI_KEYS_ENV
    os.environ[UI_KEYS_ENV] = UI_KEY
    try:
        async with running_stack(data) as s:
            s.http.headers["Authorization"] = f"Bearer {UI_KEY}"
            yield s
    finally:
        del os.environ[UI_KEYS_ENV]


async def screenshot(page: Any, name: str) -> None:
    """`name`.png of the whole page in SCREENSHOTS (git-ignored), for a reviewer to look at."""
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
