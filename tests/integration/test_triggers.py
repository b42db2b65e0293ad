"""Webhook triggers, of config and made through the API: a signed body starts a task (its
message rendered from the body), a delivery id sent again starts nothing new, a bad or
missing signature is 401 and starts nothing; no bearer token on the webhook, a bearer token
everywhere else; a trigger of config whose secret is not set refuses start-up; a trigger and
its tasks belong to its tenant."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from temporal_executor.triggers import sign
from tests.conftest import (
    Stack,
    config_data,
    fake_requests,
    running_stack,
    write_config,
)
from tests.fakes.server import FakeServer
from tests.tenants import bearer, tenant_keys

KEYS_ENV = "TE_TEST_TRIGGER_KEYS"
SECRET_ENV = "TE_TEST_TRIGGER_SECRET"
API_SECRET_ENV = "TE_TEST_TRIGGER_API_SECRET"
SECRET = b"deploy-hook-secret"
BEARER = {"Authorization": "Bearer trigger-test-key"}
MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
DEPLOYS = {
    "template": {
        "user_message": "{{ body.repository.full_name }} was deployed by {{ body.sender.login }}"
        " [no tools]",
        "model_config": MODEL,
    },
    "secret_env": SECRET_ENV,
}
PUSH = {"repository": {"full_name": "acme/shop"}, "sender": {"login": "ada"}}


@pytest.fixture
async def hooked(temporal: str, openai_fake: FakeServer, tmp_path: Path) -> AsyncIterator[Stack]:
    """The service with auth on and the trigger `deploys` in its config; `stack.http` sends
    the bearer token, `open_http` (a webhook's sender) none."""
    os.environ.update({KEYS_ENV: "ops:trigger-test-key", SECRET_ENV: SECRET.decode()})
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["server"]["api_keys_env"] = KEYS_ENV
    data["triggers"] = {"deploys": DEPLOYS}
    try:
        async with running_stack(data) as stack:
            stack.http.headers.update(BEARER)
            yield stack
    finally:
        del os.environ[KEYS_ENV], os.environ[SECRET_ENV]


@pytest.fixture
async def open_http(hooked: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hooked.url, timeout=60) as http:
        yield http


async def deliver(
    http: httpx.AsyncClient,
    name: str,
    body: Any,
    *,
    secret: bytes = SECRET,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST `body` to the webhook, signed with `secret`, with no bearer token."""
    raw = json.dumps(body).encode()
    signed = {"X-Signature-256": sign(secret, raw), "Content-Type": "application/json"}
    return await http.post(
        f"/api/v1/triggers/{name}", content=raw, headers=signed | (headers or {})
    )


async def recorded(http: httpx.AsyncClient, task_id: str, who: str) -> dict[str, Any]:
    """The task as `who` reads it, once its workflow has recorded it."""
    for _ in range(600):
        response = await http.get(f"/api/v1/tasks/{task_id}", headers=bearer(who))
        if response.status_code == 200:
            task: dict[str, Any] = response.json()
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"{who} never read task {task_id}")


async def task_ids(stack: Stack) -> list[str]:
    page = (await stack.http.get("/api/v1/tasks?limit=100")).json()
    return [task["task_id"] for task in page["tasks"]]


async def test_a_signed_webhook_starts_a_task_once_per_delivery(
    hooked: Stack, open_http: httpx.AsyncClient, openai_fake: FakeServer
) -> None:
    http = open_http

    first = await deliver(http, "deploys", PUSH, headers={"X-Delivery-Id": "d-1"})
    assert first.status_code == 202, first.text
    accepted = first.json()
    task_id = accepted["task_id"]
    assert task_id.startswith("deploys-")
    assert (accepted["trigger"], accepted["delivery_id"]) == ("deploys", "d-1")
    assert accepted["session_id"] == task_id  # a session of its own
    events = await hooked.events(task_id)
    started = events[0]["data"]
    assert started["user_message"] == "acme/shop was deployed by ada [no tools]"
    assert events[-1]["event"] == "task.completed"
    llm_calls = len(await fake_requests(openai_fake))

    # The same delivery again (a retry, a redelivery): the first task, nothing new.
    again = await deliver(http, "deploys", PUSH, headers={"X-Delivery-Id": "d-1"})
    assert again.status_code == 202, again.text
    assert again.json()["task_id"] == task_id
    assert again.json()["status"] == "completed"

    # Signed with another secret, or not at all: 401, and nothing starts.
    forged = await deliver(http, "deploys", PUSH, secret=b"guess", headers={"X-Delivery-Id": "x"})
    assert forged.status_code == 401, forged.text
    assert forged.json()["error"]["code"] == "invalid_signature"
    assert "WWW-Authenticate" not in forged.headers
    unsigned = await http.post("/api/v1/triggers/deploys", json=PUSH)
    assert unsigned.status_code == 401, unsigned.text
    assert unsigned.json()["error"]["message"].startswith("no signature")
    assert await task_ids(hooked) == [task_id]
    assert len(await fake_requests(openai_fake)) == llm_calls

    # GitHub's headers: X-Hub-Signature-256 and X-GitHub-Delivery.
    raw = json.dumps(PUSH).encode()
    github = {
        "X-Hub-Signature-256": sign(SECRET, raw),
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-GitHub-Event": "deployment",
    }
    from_github = await http.post("/api/v1/triggers/deploys", content=raw, headers=github)
    assert from_github.status_code == 202, from_github.text
    assert from_github.json()["delivery_id"] == github["X-GitHub-Delivery"]
    assert from_github.json()["task_id"] != task_id
    await hooked.events(from_github.json()["task_id"])

    # A body the template cannot be rendered with; a body that is not JSON.
    lacking = await deliver(http, "deploys", {"repository": {}}, headers={"X-Delivery-Id": "d-2"})
    assert lacking.status_code == 400, lacking.text
    assert lacking.json()["error"]["message"].startswith("body: the trigger's user_message")
    raw = b"repository=acme"
    not_json = await http.post(
        "/api/v1/triggers/deploys", content=raw, headers={"X-Signature-256": sign(SECRET, raw)}
    )
    assert not_json.status_code == 400 and "not JSON" in not_json.text, not_json.text
    assert len(await task_ids(hooked)) == 2

    # Without a delivery id, every request is a task of its own.
    one, two = [await deliver(http, "deploys", PUSH) for _ in range(2)]
    assert one.status_code == two.status_code == 202
    assert one.json()["task_id"] != two.json()["task_id"]


async def test_triggers_made_through_the_api(hooked: Stack, open_http: httpx.AsyncClient) -> None:
    http = hooked.http
    os.environ[API_SECRET_ENV] = "api-made-secret"
    try:
        template = {"user_message": "alert: {{ body.alert }} [no tools]", "model_config": MODEL}
        made = {"name": "alerts", "template": template, "secret_env": API_SECRET_ENV}

        assert (await open_http.post("/api/v1/triggers", json=made)).status_code == 401
        refused = [
            ({"secret_env": "TE_TEST_NOT_SET"}, 400, "secret_env: the environment variable"),
            (
                {"template": {**template, "user_message": "{{ body.alert "}},
                400,
                "template.user_message: line 1: ",
            ),
            (
                {"template": {**template, "model_config": {"provider": "nope", "model": "m"}}},
                400,
                "template: unknown provider 'nope'",
            ),
            ({"template": {**template, "task_id": "t"}}, 400, "template.task_id: "),
            ({"name": "no/slash"}, 422, "name: "),
            ({"name": "deploys"}, 409, "a trigger named 'deploys' exists already"),
        ]
        for change, status, says in refused:
            response = await http.post("/api/v1/triggers", json={**made, **change})
            assert response.status_code == status, (change, response.text)
            assert response.json()["error"]["message"].startswith(says), response.text

        created = await http.post("/api/v1/triggers", json=made)
        assert created.status_code == 201, created.text
        listed = (await http.get("/api/v1/triggers")).json()["triggers"]
        assert [(t["name"], t["source"]) for t in listed] == [
            ("deploys", "config"),
            ("alerts", "api"),
        ]
        assert "api-made-secret" not in json.dumps(listed)

        # Its tasks share the session `session_id` names, when it names one.
        shared = {**made, "name": "pager", "session_id": "on-call"}
        assert (await http.post("/api/v1/triggers", json=shared)).status_code == 201
        for alert in ("disk full", "disk still full"):
            response = await deliver(
                open_http, "pager", {"alert": alert}, secret=b"api-made-secret"
            )
            assert response.status_code == 202, response.text
            assert response.json()["session_id"] == "on-call"
            await hooked.events(response.json()["task_id"])
        session = (await http.get("/api/v1/sessions/on-call")).json()
        assert [m["content"] for m in session["messages"] if m["role"] == "user"] == [
            "alert: disk full [no tools]",
            "alert: disk still full [no tools]",
        ]

        # A server whose environment lacks the secret (another host, a restart without it)
        # cannot check a delivery: 503, nothing started.
        del os.environ[API_SECRET_ENV]
        unset = await deliver(open_http, "alerts", {"alert": "x"}, secret=b"api-made-secret")
        assert unset.status_code == 503, unset.text
        assert unset.json()["error"] == {
            "code": "trigger_unavailable",
            "message": "trigger 'alerts' cannot take deliveries: its secret is not set here",
        } | {k: v for k, v in unset.json()["error"].items() if k not in ("code", "message")}
        os.environ[API_SECRET_ENV] = "api-made-secret"

        deleted = await http.delete("/api/v1/triggers/alerts")
        assert deleted.status_code == 204
        assert (await open_http.delete("/api/v1/triggers/alerts")).status_code == 401
        of_config = await http.delete("/api/v1/triggers/deploys")
        assert of_config.status_code == 409, of_config.text
        gone = await deliver(open_http, "alerts", {"alert": "x"}, secret=b"api-made-secret")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "trigger_not_found"
    finally:
        del os.environ[API_SECRET_ENV]


def test_a_trigger_without_its_secret_refuses_to_start(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["triggers"] = {"deploys": {**DEPLOYS, "secret_env": "TE_TEST_TRIGGER_UNSET"}}
    config = write_config(data, tmp_path / "config.yaml")
    env = {k: v for k, v in os.environ.items() if k != "TE_TEST_TRIGGER_UNSET"}
    done = subprocess.run(
        [sys.executable, "-m", "temporal_executor", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "config: triggers.deploys.secret_env: the environment variable TE_TEST_TRIGGER_UNSET "
        "(the trigger's secret) is not set"
    ) in done.stderr, done.stderr


async def test_a_trigger_and_its_tasks_are_its_tenants(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    """Alice's trigger is hers: bob does not list it, cannot delete it (404) nor take its
    name (one namespace: 409); the task a delivery starts is hers (bob: 404); a trigger of
    config serves the tenant it names; an admin key lists every tenant's."""
    os.environ.update({SECRET_ENV: SECRET.decode(), API_SECRET_ENV: "alice-secret"})
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["triggers"] = {"deploys": {**DEPLOYS, "tenant": "team-b"}}
    template = {"user_message": "alert: {{ body.alert }} [no tools]", "model_config": MODEL}
    made = {"name": "a-alerts", "template": template, "secret_env": API_SECRET_ENV}
    try:
        with tenant_keys(data):
            async with (
                running_stack(data) as stack,
                httpx.AsyncClient(base_url=stack.url, timeout=60) as sender,
            ):
                http = stack.http
                created = await http.post("/api/v1/triggers", json=made, headers=bearer("alice"))
                assert created.status_code == 201 and created.json()["tenant"] == "team-a"

                def names(response: httpx.Response) -> list[tuple[str, str]]:
                    return [(t["name"], t["tenant"]) for t in response.json()["triggers"]]

                listed = await http.get("/api/v1/triggers", headers=bearer("bob"))
                assert names(listed) == [("deploys", "team-b")]
                listed = await http.get("/api/v1/triggers", headers=bearer("alice"))
                assert names(listed) == [("a-alerts", "team-a")]
                listed = await http.get("/api/v1/triggers", headers=bearer("root"))
                assert names(listed) == [("deploys", "team-b"), ("a-alerts", "team-a")]
                taken = await http.post(
                    "/api/v1/triggers",
                    json={**made, "secret_env": SECRET_ENV},
                    headers=bearer("bob"),
                )
                assert taken.status_code == 409, taken.text
                gone = await http.delete("/api/v1/triggers/a-alerts", headers=bearer("bob"))
                assert gone.status_code == 404, gone.text

                fired = await deliver(sender, "a-alerts", {"alert": "x"}, secret=b"alice-secret")
                assert fired.status_code == 202 and fired.json()["tenant"] == "team-a", fired.text
                task_id = fired.json()["task_id"]
                assert (await recorded(http, task_id, "alice"))["tenant"] == "team-a"
                bobs = await http.get(f"/api/v1/tasks/{task_id}", headers=bearer("bob"))
                assert bobs.status_code == 404, bobs.text
                deployed = await deliver(sender, "deploys", PUSH)
                assert deployed.json()["tenant"] == "team-b", deployed.text
                await recorded(http, deployed.json()["task_id"], "bob")
                # The list reads the store; the task GET may answer before it (from the workflow).
                for _ in range(100):
                    listed = (await http.get("/api/v1/tasks", headers=bearer("bob"))).json()
                    if listed["tasks"]:
                        break
                    await asyncio.sleep(0.1)
                assert [t["task_id"] for t in listed["tasks"]] == [deployed.json()["task_id"]]
                assert (
                    await http.delete("/api/v1/triggers/a-alerts", headers=bearer("alice"))
                ).status_code == 204
    finally:
        del os.environ[SECRET_ENV], os.environ[API_SECRET_ENV]
