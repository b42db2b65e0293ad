"""The console with tenants: signed in with bob's key, no page shows anything of alice's
(the Tasks list, her task's page, the inbox); with the admin key the list and the inbox show
every tenant's, each task opens in its tenant and is decided there."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import Stack, running_stack, weather_tool
from tests.fakes.server import FakeServer
from tests.tenants import SECRETS, start, tenant_keys
from tests.ui.conftest import console_config, screenshot

MARKER = "alice-only-marker"
# Ids end with this run's suffix: every stack shares the session's Temporal server, where a
# workflow id, once used, stays taken.
R = f"-{uuid.uuid4().hex[:6]}"
A_DONE, A_PARKED, B_DONE = f"ui-a-done{R}", f"ui-a-parked{R}", f"ui-b-done{R}"


@pytest.fixture(scope="module")
async def tenant_console(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """Alice's `A_DONE` and `A_PARKED` (awaiting approval), bob's `B_DONE`."""
    tmp_path = tmp_path_factory.mktemp("ui-tenants")
    with tenant_keys(console_config(temporal, openai_fake, tool_server, tmp_path)) as data:
        async with running_stack(data) as stack:
            http = stack.http
            await start(http, "alice", task_id=A_DONE, user_message=f"{MARKER} [no tools]")
            parked = {"tools": [weather_tool(tool_server)], "require_approval": True}
            await start(
                http,
                "alice",
                "awaiting_approval",
                task_id=A_PARKED,
                user_message=MARKER,
                **parked,
            )
            await start(http, "bob", task_id=B_DONE, user_message="bob's [no tools]")
            yield stack


async def tasks_page(page: Any, url: str, who: str) -> Any:
    """The Tasks page, signed in with `who`'s key; its rows."""
    await page.goto(url + "/ui/login")
    await page.evaluate(f"sessionStorage.setItem('temporal-executor.token', '{SECRETS[who]}')")
    await page.goto(url + "/ui/")
    return page.locator("#tasks tbody tr")


async def test_a_tenant_sees_only_its_own(tenant_console: Stack, page: Any) -> None:
    url = tenant_console.url
    rows = await tasks_page(page, url, "bob")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-task-id", B_DONE)
    await expect(page.locator("body")).not_to_contain_text("ui-a-")
    await screenshot(page, "tenant-tasks")

    for address in (f"/ui/tasks/{A_DONE}", f"/ui/tasks/{A_DONE}?tenant=team-a"):
        await page.goto(url + address)
        await expect(page.locator("#notice")).to_contain_text("(404 ")
        await expect(page.locator("#status")).to_have_text("…")
        await expect(page.locator("#conversation li")).to_have_count(0)
        await expect(page.locator("body")).not_to_contain_text(MARKER)

    await page.goto(url + "/ui/approvals")
    await expect(page.locator("#empty")).to_be_visible()
    await expect(page.locator("#approvals-count")).to_be_hidden()
    await expect(page.locator("body")).not_to_contain_text(A_PARKED)


async def test_the_admin_sees_every_tenant(tenant_console: Stack, page: Any) -> None:
    url = tenant_console.url
    rows = await tasks_page(page, url, "root")
    await expect(rows).to_have_count(3)
    alices = page.locator(f'#tasks tbody tr[data-task-id="{A_DONE}"]')
    await expect(alices.locator(".tenant")).to_have_text("team-a")
    await alices.get_by_role("link", name=A_DONE).first.click()
    await page.wait_for_url(f"**/ui/tasks/{A_DONE}?tenant=team-a")
    await expect(page.locator("#status")).to_have_text("completed")
    await expect(page.locator("#conversation")).to_contain_text(MARKER)

    await page.goto(url + "/ui/approvals")
    card = page.locator(f'section.decision[data-task-id="{A_PARKED}"]')
    await expect(card.locator(".tenant")).to_have_text("team-a")
    await screenshot(page, "tenant-admin-inbox")
    await card.get_by_role("button", name="Approve").click()
    await expect(page.locator("#notice")).to_have_text(f"Task {A_PARKED}: approved 1 tool call.")
    task = await tenant_console.http.get(
        f"/api/v1/tasks/{A_PARKED}", headers={"Authorization": f"Bearer {SECRETS['alice']}"}
    )
    assert task.json()["status"] in ("running", "completed"), task.text
