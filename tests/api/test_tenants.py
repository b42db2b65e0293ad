"""Tenants over HTTP: every route of `/openapi.json` that names a task, a session or a tenant
(REST and A2A HTTP+JSON, 1.0 and 0.3) is tried with the other tenant's key on alice's task
(404, and nothing changes) and with alice's key (success); the routes that list, stream or
count show bob nothing of alice's; ids repeat across tenants without clashing; an admin key
sees every tenant, and acts in the one it names.

A new route that names a task is tried automatically; it fails the test until `EXAMPLES`
says what alice's call of it sends and answers."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Stack, enqueue, weather_tool
from tests.fakes.samples import PNG
from tests.fakes.server import FakeServer
from tests.tenants import MODEL, bearer, start, tenant_stack

# Ids end with this run's suffix: every stack shares the session's Temporal server, where a
# workflow id, once used, stays taken.
R = f"-{uuid.uuid4().hex[:6]}"
SAME = f"same{R}"  # a task and session id both tenants use
HOOK = "http://127.0.0.1:9/hook"  # push configs are stored, never delivered (no status left)
ASK_USER = {"name": "ask_user", "type": "builtin"}
QUESTIONS = json.dumps({"questions": [{"question": "Which?", "choices": ["x", "y"]}]})
PUSH_IDS = ("hook-1", "hook-2", "hook-3", "hook-4")

# Path parameters naming alice's things, by default.
IDS = {
    "task_id": f"a-done{R}",
    "id": f"a-watch{R}",
    "session_id": f"a-sess{R}",
    "workflow_id": f"agent-execution-a-parked{R}",
    "tenant": "team-a",
    "push_id": "hook-1",
    "schedule_id": f"a-sched{R}",
}
# Alice's schedules (paused): one to read, pause, resume and backfill, one to delete.
SCHEDULE: dict[str, Any] = {
    "template": {"user_message": "daily [no tools]", "model_config": MODEL},
    "cron": "0 9 * * *",
    "paused": True,
}
# A backfill over a time the schedule does not run at: nothing starts.
NO_TIMES = {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T11:00:00Z"}
MESSAGE = {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "hi [no tools]"}]}
# What alice sends to each route that names something of hers, and the statuses that mean
# it worked: (path parameters other than IDS, JSON body, statuses).
EXAMPLES: dict[str, tuple[dict[str, str], Any, set[int]]] = {
    "GET /api/v1/sessions/{session_id}": ({}, None, {200}),
    "DELETE /api/v1/sessions/{session_id}": ({"session_id": f"a-gone{R}"}, None, {204}),
    "GET /api/v1/tasks/{task_id}": ({}, None, {200}),
    "GET /api/v1/tasks/{task_id}/events": ({}, None, {200}),
    "POST /api/v1/tasks/{task_id}/cancel": ({"task_id": f"a-cancel-1{R}"}, None, {202}),
    "GET /api/v1/tasks/{task_id}/artifacts/{artifact_id}": (
        {"task_id": f"a-files{R}", "artifact_id": "chart-call-0"},
        None,
        {200},
    ),
    "GET /api/v1/tasks/{task_id}/inputs/{index}": (
        {"task_id": f"a-files{R}", "index": "0"},
        None,
        {200},
    ),
    "GET /api/v1/tasks/{task_id}/steps": ({}, None, {200}),
    "POST /api/v1/tasks/{task_id}/fork": ({}, {"at_step": 1, "task_id": f"a-fork{R}"}, {202}),
    "POST /api/v1/tasks/{task_id}/rerun": ({}, {"task_id": f"a-rerun{R}"}, {202}),
    "POST /api/v1/approve/{workflow_id}": ({}, {"approved": True}, {200}),
    "POST /api/v1/tasks/{task_id}/answer": (
        {"task_id": f"a-asking{R}"},
        {"answers": [["x"]]},
        {200},
    ),
    "POST /a2a/rest/tasks/{id}:cancel": ({"id": f"a-cancel-2{R}"}, {}, {200}),
    "GET /a2a/rest/tasks/{id}:subscribe": ({}, None, {200}),
    "POST /a2a/rest/tasks/{id}:subscribe": ({}, {}, {200}),
    "GET /a2a/rest/tasks/{id}": ({}, None, {200}),
    "GET /a2a/rest/tasks/{id}/pushNotificationConfigs/{push_id}": ({}, None, {200}),
    "DELETE /a2a/rest/tasks/{id}/pushNotificationConfigs/{push_id}": (
        {"push_id": "hook-2"},
        None,
        {200},
    ),
    "POST /a2a/rest/tasks/{id}/pushNotificationConfigs": ({}, {"id": "new-1", "url": HOOK}, {200}),
    "GET /a2a/rest/tasks/{id}/pushNotificationConfigs": ({}, None, {200}),
    "POST /a2a/rest/v1/tasks/{id}:cancel": ({"id": f"a-cancel-3{R}"}, {}, {200}),
    "GET /a2a/rest/v1/tasks/{id}:subscribe": ({}, None, {200}),
    "POST /a2a/rest/v1/tasks/{id}:subscribe": ({}, {}, {200}),
    "GET /a2a/rest/v1/tasks/{id}": ({}, None, {200}),
    "GET /a2a/rest/v1/tasks/{id}/pushNotificationConfigs/{push_id}": ({}, None, {200}),
    "POST /a2a/rest/v1/tasks/{id}/pushNotificationConfigs": (
        {},
        {
            "parent": f"tasks/a-watch{R}",
            "configId": "new-2",
            "config": {"pushNotificationConfig": {"id": "new-2", "url": HOOK}},
        },
        {200},
    ),
    "GET /a2a/rest/v1/tasks/{id}/pushNotificationConfigs": ({}, None, {200}),
    "POST /a2a/rest/{tenant}/message:send": ({}, {"message": MESSAGE}, {200}),
    "POST /a2a/rest/{tenant}/message:stream": ({}, {"message": MESSAGE}, {200}),
    "POST /a2a/rest/{tenant}/tasks/{id}:cancel": ({"id": f"a-cancel-4{R}"}, {}, {200}),
    "GET /a2a/rest/{tenant}/tasks/{id}:subscribe": ({}, None, {200}),
    "POST /a2a/rest/{tenant}/tasks/{id}:subscribe": ({}, {}, {200}),
    "GET /a2a/rest/{tenant}/tasks/{id}": ({}, None, {200}),
    "GET /a2a/rest/{tenant}/tasks/{id}/pushNotificationConfigs/{push_id}": (
        {"push_id": "hook-3"},
        None,
        {200},
    ),
    "DELETE /a2a/rest/{tenant}/tasks/{id}/pushNotificationConfigs/{push_id}": (
        {"push_id": "hook-4"},
        None,
        {200},
    ),
    "POST /a2a/rest/{tenant}/tasks/{id}/pushNotificationConfigs": (
        {},
        {"id": "new-3", "url": HOOK},
        {200},
    ),
    "GET /a2a/rest/{tenant}/tasks/{id}/pushNotificationConfigs": ({}, None, {200}),
    "GET /a2a/rest/{tenant}/tasks": ({}, None, {200}),
    # No extended card is configured: alice is told so; bob is told there is no tenant.
    "GET /a2a/rest/{tenant}/extendedAgentCard": ({}, None, {400}),
    "GET /api/v1/schedules/{schedule_id}": ({}, None, {200}),
    "DELETE /api/v1/schedules/{schedule_id}": ({"schedule_id": f"a-sched-gone{R}"}, None, {204}),
    "POST /api/v1/schedules/{schedule_id}/pause": ({}, None, {200}),
    "POST /api/v1/schedules/{schedule_id}/resume": ({}, None, {200}),
    "POST /api/v1/schedules/{schedule_id}/backfill": ({}, NO_TIMES, {202}),
}


@pytest.fixture(scope="module")
async def tenants(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """A service with alice (team-a), bob (team-b) and root (admin), and alice's tasks:
    `a-done` (session `a-sess`), `a-gone` and `a-files` (an image in, a PNG artifact out)
    ended; `a-parked`, `a-watch` (with push configs `hook-1` … `hook-4`) and `a-cancel-1` …
    `-4` awaiting approval; `a-asking` awaiting an answer (each id ending with `R`). Both
    tenants ran a task `SAME` in a session `SAME`."""
    tmp_path = tmp_path_factory.mktemp("tenants")
    async with tenant_stack(temporal, openai_fake, tool_server, tmp_path) as stack:
        http = stack.http
        tool = weather_tool(tool_server)
        parked = {"tools": [tool], "require_approval": True}
        await start(http, "alice", task_id=f"a-done{R}", session_id=f"a-sess{R}", user_message="hi")
        await start(http, "alice", task_id=f"a-gone{R}", user_message="bye [no tools]")
        for task_id in (
            f"a-parked{R}",
            f"a-watch{R}",
            *(f"a-cancel-{n}{R}" for n in range(1, 5)),
        ):
            await start(
                http, "alice", "awaiting_approval", task_id=task_id, user_message="w?", **parked
            )
        # A task with a file in its message and an artifact (a tool's PNG).
        chart = {
            "name": "chart",
            "type": "http",
            "config": {"endpoint": tool_server.base_url + "/files/chart.png", "method": "GET"},
        }
        await enqueue(openai_fake, [{"tool_calls": [{"name": "chart", "id": "chart-call"}]}])
        photo = {"type": "image", "data": base64.b64encode(PNG).decode(), "media_type": "image/png"}
        files = [{"type": "text", "text": "draw"}, photo]
        await start(http, "alice", task_id=f"a-files{R}", user_message=files, tools=[chart])
        ask = {"name": "ask_user", "id": "q1", "arguments": QUESTIONS}
        await enqueue(openai_fake, [{"tool_calls": [ask]}])
        asking = {"task_id": f"a-asking{R}", "user_message": "ask", "tools": [ASK_USER]}
        await start(http, "alice", "awaiting_input", **asking)
        for push_id in PUSH_IDS:
            created = await http.post(
                f"/a2a/rest/tasks/a-watch{R}/pushNotificationConfigs",
                json={"id": push_id, "url": HOOK},
                headers=bearer("alice"),
            )
            assert created.status_code == 200, created.text
        for who in ("alice", "bob"):
            message = f"same from {who} [no tools]"
            await start(http, who, task_id=SAME, session_id=SAME, user_message=message)
        for schedule_id in (f"a-sched{R}", f"a-sched-gone{R}"):
            made = await http.post(
                "/api/v1/schedules",
                json={**SCHEDULE, "schedule_id": schedule_id},
                headers=bearer("alice"),
            )
            assert made.status_code == 201, made.text
        yield stack


async def call(
    http: httpx.AsyncClient, method: str, path: str, who: str, body: Any = None
) -> tuple[int, str]:
    """The status and (start of the) body of one call; a stream is read up to its first
    event (an SSE stream of a task that has not ended would go on)."""
    content = None if body is None else json.dumps(body).encode()
    headers = {**bearer(who), "Content-Type": "application/json"}
    async with http.stream(method, path, content=content, headers=headers, timeout=30) as response:
        text = ""
        async for chunk in response.aiter_text():
            text += chunk
            if "text/event-stream" in response.headers.get("content-type", "") and (
                "data:" in text
            ):
                break
        return response.status_code, text


def operations(spec: dict[str, Any]) -> list[tuple[str, str, set[str]]]:
    """Each operation of `spec` with its path parameters, in the spec's order."""
    return [
        (method.upper(), path, set(re.findall(r"{(\w+)}", path)))
        for path, methods in spec["paths"].items()
        for method in methods
    ]


async def test_every_route_keeps_a_tenant_to_itself(tenants: Stack) -> None:
    http = tenants.http
    spec = (await http.get("/openapi.json")).json()
    addressed = [(m, p, names) for m, p, names in operations(spec) if names & set(IDS)]
    assert len(addressed) >= 30, addressed  # REST, A2A HTTP+JSON 1.0, 0.3 and under a tenant
    missing = sorted(f"{m} {p}" for m, p, _ in addressed if f"{m} {p}" not in EXAMPLES)
    assert not missing, f"routes without an example of alice's call: {missing}"

    # Bob, on every route that names alice's things: 404, whatever he sends.
    wrong = {}
    for method, path, _ in addressed:
        ids, body, _ = EXAMPLES[f"{method} {path}"]
        status, text = await call(http, method, path.format(**{**IDS, **ids}), "bob", body)
        if status != 404:
            wrong[f"{method} {path}"] = (status, text[:200])
    assert not wrong, wrong
    # … and nothing changed: alice's parked tasks still wait, her configs are all there.
    for task_id in (f"a-parked{R}", f"a-watch{R}", f"a-cancel-1{R}", f"a-cancel-4{R}"):
        task = await http.get(f"/api/v1/tasks/{task_id}", headers=bearer("alice"))
        assert task.json()["status"] == "awaiting_approval", task.text
    configs = await http.get(
        f"/a2a/rest/tasks/a-watch{R}/pushNotificationConfigs", headers=bearer("alice")
    )
    assert {c["id"] for c in configs.json()["configs"]} == set(PUSH_IDS)

    # Alice, on the same routes: each works.
    failed = {}
    for method, path, _ in addressed:
        ids, body, expected = EXAMPLES[f"{method} {path}"]
        status, text = await call(http, method, path.format(**{**IDS, **ids}), "alice", body)
        if status not in expected:
            failed[f"{method} {path}"] = (status, text[:300])
    assert not failed, failed


async def test_listings_show_a_tenant_its_own(tenants: Stack) -> None:
    http = tenants.http

    async def listed(who: str, path: str, **headers: str) -> Any:
        response = await http.get(path, headers={**bearer(who), **headers})
        assert response.status_code == 200, response.text
        return response.json()

    bobs = await listed("bob", "/api/v1/tasks")
    assert [(t["task_id"], t["tenant"]) for t in bobs["tasks"]] == [(SAME, "team-b")]
    same = await listed("bob", f"/api/v1/tasks/{SAME}")
    assert same["session_id"] == SAME
    assert (await listed("bob", f"/api/v1/sessions/{SAME}"))["tasks"][0]["task_id"] == SAME
    assert (await listed("bob", "/api/v1/approvals"))["approvals"] == []
    assert (await listed("bob", "/a2a/rest/tasks"))["tasks"][0]["id"] == SAME
    alices = await listed("alice", "/api/v1/tasks")
    assert SAME in {t["task_id"] for t in alices["tasks"]}
    assert {t["tenant"] for t in alices["tasks"]} == {"team-a"}
    inbox = await listed("alice", "/api/v1/approvals")
    assert {c["task_id"] for c in inbox["approvals"]} >= {f"a-watch{R}"}
    assert {c["tenant"] for c in inbox["approvals"]} == {"team-a"}

    # The same ids in two tenants are two tasks: each tenant reads its own answer.
    for who in ("alice", "bob"):
        task = await listed(who, f"/api/v1/tasks/{SAME}")
        assert task["result"]["content"] == f"Echo: same from {who} [no tools]"
        events = await http.get(f"/api/v1/tasks/{SAME}/events", headers=bearer(who))
        started = events.text.split("data: ", 2)[1].splitlines()[0]
        assert json.loads(started)["session_id"] == SAME
        assert f"same from {who}" in events.text
        assert "same from alice" not in events.text or who == "alice"

    # Root (admin) lists every tenant, each task labelled; it acts in the tenant it names.
    everyone = await listed("root", "/api/v1/tasks?limit=500")
    assert {(SAME, "team-a"), (SAME, "team-b")} <= {
        (t["task_id"], t["tenant"]) for t in everyone["tasks"]
    }
    assert "team-a" in {
        c["tenant"] for c in (await listed("root", "/api/v1/approvals"))["approvals"]
    }
    named = await listed("root", f"/api/v1/tasks/{SAME}", **{"X-Tenant": "team-b"})
    assert named["result"]["content"] == "Echo: same from bob [no tools]"
    assert named["tenant"] == "team-b"
    only_b = await listed("root", "/api/v1/tasks", **{"X-Tenant": "team-b"})
    assert [t["task_id"] for t in only_b["tasks"]] == [SAME]
    assert (await http.get(f"/api/v1/tasks/{SAME}", headers=bearer("root"))).status_code == 404

    # Naming a tenant that is not the key's own: 404, on every kind of route.
    for method, path in (("GET", "/api/v1/tasks"), ("GET", "/api/v1/approvals")):
        refused = await http.request(method, path, headers={**bearer("bob"), "X-Tenant": "team-a"})
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "tenant_not_found"
    body = {"model_config": {"provider": "openai", "model": "gpt-4o-mini"}, "user_message": "x"}
    refused = await http.post(
        "/api/v1/execute", json=body, headers={**bearer("bob"), "X-Tenant": "team-a"}
    )
    assert refused.status_code == 404, refused.text
    assert (
        await http.get("/api/v1/tasks", headers={**bearer("bob"), "X-Tenant": "team-b"})
    ).status_code == 200

    # Metrics count every tenant's tasks and name none.
    metrics = (await http.get("/metrics")).text
    assert "team-a" not in metrics and "team-b" not in metrics and f"a-parked{R}" not in metrics


async def test_a_schedule_and_its_runs_are_its_tenants(tenants: Stack) -> None:
    """Bob and alice may give a schedule the same id; each lists and reads only their own,
    and the task a run of bob's starts is bob's (alice's key gets a 404 for it)."""
    http = tenants.http
    same = {**SCHEDULE, "schedule_id": f"a-sched{R}"}  # alice's id, in bob's tenant
    made = await http.post("/api/v1/schedules", json=same, headers=bearer("bob"))
    assert made.status_code == 201, made.text
    assert (made.json()["schedule_id"], made.json()["tenant"]) == (f"a-sched{R}", "team-b")
    window = {"start": "2020-01-01T08:30:00Z", "end": "2020-01-01T09:30:00Z"}
    ran = await http.post(
        f"/api/v1/schedules/a-sched{R}/backfill", json=window, headers=bearer("bob")
    )
    assert ran.status_code == 202 and len(ran.json()["times"]) == 1, ran.text
    task_id = f"a-sched{R}-2020-01-01T09:00:00Z"
    for _ in range(600):
        task = await http.get(f"/api/v1/tasks/{task_id}", headers=bearer("bob"))
        if task.status_code == 200 and task.json()["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert task.json()["tenant"] == "team-b", task.text
    assert task.json()["result"]["content"] == "Echo: daily [no tools]"
    assert (await http.get(f"/api/v1/tasks/{task_id}", headers=bearer("alice"))).status_code == 404

    bobs = (await http.get("/api/v1/schedules", headers=bearer("bob"))).json()["schedules"]
    assert [(s["schedule_id"], s["tenant"]) for s in bobs] == [(f"a-sched{R}", "team-b")]
    assert [r["task_id"] for r in bobs[0]["recent_runs"]] == [task_id]
    alices = (await http.get("/api/v1/schedules", headers=bearer("alice"))).json()["schedules"]
    assert {s["tenant"] for s in alices} == {"team-a"}
    assert all(s["recent_runs"] == [] for s in alices)
    everyone = (await http.get("/api/v1/schedules", headers=bearer("root"))).json()["schedules"]
    assert {("team-a", f"a-sched{R}"), ("team-b", f"a-sched{R}")} <= {
        (s["tenant"], s["schedule_id"]) for s in everyone
    }
    assert (
        await http.delete(f"/api/v1/schedules/a-sched{R}", headers=bearer("bob"))
    ).status_code == 204
    assert (
        await http.get(f"/api/v1/schedules/a-sched{R}", headers=bearer("alice"))
    ).status_code == 200
