"""The Temporal UI decrypts a task's history through our codec server, for the key that owns
the task, by the click path README ("Encryption at rest") documents for `dev`'s embedded UI:
sign in to the console (it starts the codec session: a cookie), open the task's workflow in
the Temporal UI, and in its Codec Server dialog use the browser setting with "Include
cross-origin credentials". Before that the UI shows ciphertext and says it could not reach
the codec server."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from temporal_executor.devserver import DevServer
from tests.conftest import Stack, free_port, running_stack
from tests.encryption.keys import entry
from tests.fakes.server import FakeServer
from tests.tenants import SECRETS, start, tenant_keys
from tests.ui.conftest import console_config, screenshot

KEYS_ENV = "TE_TEST_UI_ENCRYPTION_KEYS"
MARKER = f"MARKER-ui-{uuid.uuid4().hex[:8]}"
TASK = "ui-codec-1"


@dataclass
class Encrypted:
    stack: Stack
    ui: str  # the Temporal UI
    workflow: str  # the task's page there


@pytest.fixture
async def encrypted(
    openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Encrypted]:
    """A Temporal dev server whose UI is wired to our codec server (as `dev` does it), the
    service with encryption on and alice's task, whose prompt and answer hold `MARKER`."""
    api_port = free_port()
    codec = ["--ui-codec-endpoint", f"http://127.0.0.1:{api_port}/codec"]
    server = DevServer(f"127.0.0.1:{free_port()}", free_port(), tmp_path / "temporal", codec)
    async with server.running():
        data = console_config(f"127.0.0.1:{server.port}", openai_fake, tool_server, tmp_path)
        data["server"]["port"] = api_port
        data["temporal"]["ui_url"] = server.ui_url
        data["security"] = {"encryption": {"enabled": True, "keys_env": KEYS_ENV}}
        os.environ[KEYS_ENV] = entry("k1")
        try:
            with tenant_keys(data):
                async with running_stack(data) as stack:
                    await start(stack.http, "alice", task_id=TASK, user_message=MARKER)
                    page = f"{server.ui_url}/namespaces/default/workflows/"
                    yield Encrypted(stack, server.ui_url, page + f"agent-execution-team-a~{TASK}")
        finally:
            del os.environ[KEYS_ENV]


async def sign_in(page: Any, url: str, who: str) -> None:
    await page.goto(url + "/ui/login")
    await page.fill("#token", SECRETS[who])
    await page.click("button[type=submit]")
    await page.wait_for_url(url + "/ui/")


async def use_codec_with_credentials(page: Any, endpoint: str) -> None:
    """The Codec Server dialog: the browser setting, with cross-origin credentials."""
    await page.get_by_test_id("use-local-endpoint-input").check()
    await page.get_by_test_id("data-encoder-endpoint-input").fill(endpoint)
    await page.get_by_text("Include cross-origin credentials").click()  # a toggle switch
    await expect(page.get_by_label("Include cross-origin credentials")).to_be_checked()
    await page.get_by_role("button", name="Apply").click()


async def test_the_owner_sees_the_history_decrypted(encrypted: Encrypted, browser: Any) -> None:
    # Only the owner: that another tenant's key decrypts nothing is the codec server's answer
    # (tests/integration/test_encryption.py), which the UI shows as it comes.
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await sign_in(page, encrypted.stack.url, "alice")
        await page.goto(encrypted.workflow)
        # The cluster setting sends no credentials: our server refuses, the UI says so, and
        # shows the payloads as they are (ciphertext).
        await expect(page.get_by_test_id("data-encoder-status-error")).to_be_visible()
        await expect(page.get_by_role("heading", name="Input", exact=True)).to_be_visible()
        assert MARKER not in await page.inner_text("body")
        await page.get_by_test_id("data-encoder-status-error").click()
        await use_codec_with_credentials(page, f"{encrypted.stack.url}/codec")
        await page.reload()
        await expect(page.get_by_role("heading", name="Result", exact=True)).to_be_visible()
        await expect(page.get_by_text(MARKER).first).to_be_visible()
        await screenshot(page, "temporal-ui-codec-alice")
    finally:
        await context.close()
