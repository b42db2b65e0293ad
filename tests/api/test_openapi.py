"""`/openapi.json` is the truth: every route the app serves is in it with its path parameters,
every error status a route answers is documented on that route with the body it has, and
every error code of the one error table is documented."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from temporal_executor.api import create_app
from temporal_executor.api.openapi import errors
from temporal_executor.errors import ExecutorError
from temporal_executor.triggers import sign
from tests.conftest import Stack, config_data, running_stack, weather_tool
from tests.encryption.keys import entry
from tests.fakes.server import FakeServer

KEYS_ENV = "TE_TEST_OPENAPI_KEYS"
HOOK_ENV = "TE_TEST_OPENAPI_HOOK_SECRET"
ENCRYPTION_ENV = "TE_TEST_OPENAPI_ENCRYPTION_KEYS"  # on: the codec server's routes are served
ALL = {"Authorization": "Bearer all-secret"}
READER = {"Authorization": "Bearer reader-secret"}
MODEL = {"provider": "openai", "model": "gpt-4o-mini"}


def _subclasses(cls: type[ExecutorError]) -> Iterator[type[ExecutorError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


def test_every_error_code_is_documented() -> None:
    """Each error a request can get (4xx) is described under its status, by its code."""
    for cls in _subclasses(ExecutorError):
        if 400 <= cls.http_status < 500:
            described = errors(cls.http_status)[cls.http_status]["description"]
            assert f"`{cls.code}`" in described, (cls.__name__, described)


@pytest.fixture
async def spec_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    os.environ[KEYS_ENV] = "all:all-secret,reader:reader-secret"
    os.environ[HOOK_ENV] = "hook-secret"
    os.environ[ENCRYPTION_ENV] = entry("k1")
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["server"]["api_keys_env"] = KEYS_ENV
    data["server"]["api_key_scopes"] = {"reader": ["read"]}
    data["server"]["max_body_bytes"] = 4096
    template = {"user_message": "{{ body.text }}", "model_config": MODEL}
    data["triggers"] = {"hook": {"template": template, "secret_env": HOOK_ENV}}
    data["security"] = {"encryption": {"enabled": True, "keys_env": ENCRYPTION_ENV}}
    try:
        async with running_stack(data) as stack:
            yield stack
    finally:
        del os.environ[KEYS_ENV], os.environ[HOOK_ENV], os.environ[ENCRYPTION_ENV]


def _routes(routes: list[Any]) -> Iterator[Route | APIRoute]:
    """Every route, those of included routers too (the app includes ours without a prefix)."""
    for route in routes:
        if isinstance(route, Route | APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's included router
            yield from _routes(route.original_router.routes)
        elif isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            continue  # the console's assets (/ui/static): files, not API operations
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")


async def test_every_route_is_described(spec_stack: Stack) -> None:
    spec = (await spec_stack.http.get("/openapi.json")).json()
    services = spec_stack.services
    app = create_app(
        spec_stack.config, services.tasks, services.submissions, keyring=services.keyring
    )
    served = set()
    for route in _routes(app.routes):
        if not route.include_in_schema:
            continue  # /docs, /redoc, /openapi.json itself
        for method in sorted((route.methods or set()) - {"HEAD"}):
            served.add((route.path, method.lower()))
            operation = spec["paths"].get(route.path, {}).get(method.lower())
            assert operation is not None, f"{method} {route.path} is not in /openapi.json"
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(route.param_convertors), (method, route.path, declared)
            assert operation["responses"], (method, route.path)
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert described == served  # and nothing described that is not served
    assert len(served) > 35


async def test_every_error_is_documented_on_its_route(
    spec_stack: Stack, tool_server: FakeServer
) -> None:
    """Provoke each error each route can answer; it must be a status documented on that
    route, with the body documented for it."""
    http = spec_stack.http
    spec = (await http.get("/openapi.json")).json()
    session = f"s-{uuid.uuid4().hex[:8]}"
    parked = await http.post(
        "/api/v1/execute?wait=true",
        json={
            "user_message": "weather in Paris?",
            "model_config": MODEL,
            "session_id": session,
            "tools": [weather_tool(tool_server)],
            "require_approval": True,
        },
        headers=ALL,
    )
    assert parked.json()["status"] == "awaiting_approval", parked.text
    waiting = parked.json()["task_id"]
    done = await http.post(
        "/api/v1/execute?wait=true",
        json={"user_message": "hi [no tools]", "model_config": MODEL},
        headers=ALL,
    )
    assert done.json()["status"] == "completed", done.text
    ended = done.json()["task_id"]
    big = b'{"user_message": "' + b"x" * 8192 + b'"}'
    text = {"content": b"hi", "headers": {**ALL, "Content-Type": "text/plain"}}
    unknown_provider = {"user_message": "hi", "model_config": {"provider": "nope", "model": "m"}}
    message = {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}
    template = {"user_message": "hi", "model_config": MODEL}
    paused = {"schedule_id": f"p-{session}", "template": template, "cron": "0 9 * * *"}
    created = await http.post("/api/v1/schedules", json={**paused, "paused": True}, headers=ALL)
    assert created.status_code == 201, created.text
    schedule = f"/api/v1/schedules/{paused['schedule_id']}"
    trigger = {"name": "t1", "template": template, "secret_env": "TE_TEST_UNSET_SECRET"}
    signed = {
        "content": b"not json",
        "headers": {"X-Signature-256": sign(b"hook-secret", b"not json")},
    }
    cases: list[tuple[str, str, str, dict[str, Any], int]] = [
        ("POST", "/api/v1/execute", "/api/v1/execute", {"json": {}, "headers": {}}, 401),
        ("POST", "/api/v1/execute", "/api/v1/execute", {"json": {}, "headers": READER}, 403),
        ("POST", "/api/v1/execute", "/api/v1/execute", {"json": unknown_provider}, 400),
        ("POST", "/api/v1/execute", "/api/v1/execute", {"content": big}, 413),
        ("POST", "/api/v1/execute", "/api/v1/execute", text, 415),
        ("POST", "/api/v1/execute", "/api/v1/execute", {"json": {"x": 1}}, 422),
        (
            "POST",
            "/api/v1/execute",
            "/api/v1/execute",
            {"json": {"user_message": "hi", "model_config": MODEL, "session_id": session}},
            409,
        ),
        ("POST", "/a2a/message", "/a2a/message", {"json": {"x": 1}}, 422),
        ("GET", "/api/v1/tasks?offset=99999999999999999999", "/api/v1/tasks", {}, 422),
        ("GET", "/api/v1/tasks", "/api/v1/tasks", {"headers": {}}, 401),
        ("GET", "/api/v1/approvals?limit=0", "/api/v1/approvals", {}, 422),
        ("GET", "/api/v1/approvals", "/api/v1/approvals", {"headers": {}}, 401),
        ("GET", "/api/v1/catalog", "/api/v1/catalog", {"headers": {}}, 401),
        ("GET", "/api/v1/sessions/nope", "/api/v1/sessions/{session_id}", {}, 404),
        ("GET", "/api/v1/sessions/" + "x" * 200, "/api/v1/sessions/{session_id}", {}, 422),
        ("DELETE", "/api/v1/sessions/nope", "/api/v1/sessions/{session_id}", {}, 404),
        ("DELETE", f"/api/v1/sessions/{session}", "/api/v1/sessions/{session_id}", {}, 409),
        (
            "DELETE",
            "/api/v1/sessions/nope",
            "/api/v1/sessions/{session_id}",
            {"headers": READER},
            403,
        ),
        ("GET", "/api/v1/tasks/nope", "/api/v1/tasks/{task_id}", {}, 404),
        ("GET", "/api/v1/tasks/nope/events", "/api/v1/tasks/{task_id}/events", {}, 404),
        (
            "GET",
            f"/api/v1/tasks/{ended}/events?after=-1",
            "/api/v1/tasks/{task_id}/events",
            {},
            422,
        ),
        (
            "POST",
            f"/api/v1/approve/agent-execution-{ended}",
            "/api/v1/approve/{workflow_id}",
            {"json": {"approved": True}},
            409,
        ),
        (
            "POST",
            "/api/v1/approve/nope",
            "/api/v1/approve/{workflow_id}",
            {"json": {"approved": True}},
            404,
        ),
        (
            "POST",
            f"/api/v1/approve/agent-execution-{waiting}",
            "/api/v1/approve/{workflow_id}",
            {"json": {"approved": "maybe"}},
            422,
        ),
        (
            "POST",
            f"/api/v1/approve/agent-execution-{waiting}",
            "/api/v1/approve/{workflow_id}",
            {"json": {"approved": True}, "headers": READER},
            403,
        ),
        (
            "POST",
            f"/api/v1/tasks/{ended}/answer",
            "/api/v1/tasks/{task_id}/answer",
            {"json": {"answers": [["a"]]}},
            409,
        ),
        (
            "POST",
            f"/api/v1/tasks/{waiting}/answer",
            "/api/v1/tasks/{task_id}/answer",
            {"json": {"answers": []}},
            422,
        ),
        (
            "POST",
            f"/api/v1/tasks/{waiting}/answer",
            "/api/v1/tasks/{task_id}/answer",
            {"json": {"answers": [["a"]]}, "headers": READER},
            403,
        ),
        (
            "GET",
            f"/api/v1/tasks/{ended}/artifacts/nope",
            "/api/v1/tasks/{task_id}/artifacts/{artifact_id}",
            {},
            404,
        ),
        (
            "GET",
            f"/api/v1/tasks/{ended}/artifacts/a%20b",
            "/api/v1/tasks/{task_id}/artifacts/{artifact_id}",
            {},
            422,
        ),
        (
            "GET",
            f"/api/v1/tasks/{ended}/inputs/0",
            "/api/v1/tasks/{task_id}/inputs/{index}",
            {},
            404,
        ),
        (
            "GET",
            f"/api/v1/tasks/{ended}/inputs/x",
            "/api/v1/tasks/{task_id}/inputs/{index}",
            {},
            422,
        ),
        ("POST", f"/api/v1/tasks/{ended}/cancel", "/api/v1/tasks/{task_id}/cancel", {}, 409),
        ("GET", "/api/v1/tasks/nope/steps", "/api/v1/tasks/{task_id}/steps", {}, 404),
        (
            "POST",
            f"/api/v1/tasks/{ended}/fork",
            "/api/v1/tasks/{task_id}/fork",
            {"json": {"at_step": 99}},
            400,
        ),
        (
            "POST",
            f"/api/v1/tasks/{waiting}/fork",
            "/api/v1/tasks/{task_id}/fork",
            {"json": {"at_step": 0}},
            422,
        ),
        ("POST", f"/api/v1/tasks/{waiting}/rerun", "/api/v1/tasks/{task_id}/rerun", {}, 409),
        ("POST", "/api/v1/tasks/nope/rerun", "/api/v1/tasks/{task_id}/rerun", {}, 404),
        ("POST", "/api/v1/tasks/nope/cancel", "/api/v1/tasks/{task_id}/cancel", {}, 404),
        ("GET", "/a2a/rest/tasks/nope", "/a2a/rest/tasks/{id}", {}, 404),
        ("GET", "/a2a/rest/tasks/nope", "/a2a/rest/tasks/{id}", {"headers": {}}, 401),
        ("GET", "/a2a/rest/tasks?pageSize=x", "/a2a/rest/tasks", {}, 400),
        ("POST", "/a2a/rest/message:send", "/a2a/rest/message:send", text, 415),
        (
            "POST",
            "/a2a/rest/message:send",
            "/a2a/rest/message:send",
            {"json": message, "headers": READER},
            403,
        ),
        ("POST", "/a2a/rest/message:send", "/a2a/rest/message:send", {"content": big}, 413),
        ("POST", "/a2a/rest/tasks/nope:cancel", "/a2a/rest/tasks/{id}:cancel", {}, 404),
        (
            "GET",
            "/a2a/rest/v1/tasks/nope?historyLength=false",
            "/a2a/rest/v1/tasks/{id}",
            {},
            400,
        ),
        ("POST", "/a2a/rest/v1/tasks/nope:subscribe", "/a2a/rest/v1/tasks/{id}:subscribe", {}, 404),
        ("POST", "/a2a", "/a2a", {"json": {}, "headers": {}}, 401),
        ("POST", "/a2a", "/a2a", {"content": big}, 413),
        ("GET", "/api/v1/schedules", "/api/v1/schedules", {"headers": {}}, 401),
        (
            "POST",
            "/api/v1/schedules",
            "/api/v1/schedules",
            {"json": {"template": unknown_provider, "interval": "1h"}},
            400,
        ),
        ("POST", "/api/v1/schedules", "/api/v1/schedules", {"json": paused}, 409),
        (
            "POST",
            "/api/v1/schedules",
            "/api/v1/schedules",
            {"json": {"template": template, "cron": "*/5 * * * * *"}},
            422,
        ),
        ("POST", "/api/v1/schedules", "/api/v1/schedules", {"json": {}, "headers": READER}, 403),
        ("GET", "/api/v1/schedules/nope", "/api/v1/schedules/{schedule_id}", {}, 404),
        ("GET", "/api/v1/schedules/no%20pe", "/api/v1/schedules/{schedule_id}", {}, 422),
        ("DELETE", "/api/v1/schedules/nope", "/api/v1/schedules/{schedule_id}", {}, 404),
        ("POST", "/api/v1/schedules/nope/pause", "/api/v1/schedules/{schedule_id}/pause", {}, 404),
        (
            "POST",
            "/api/v1/schedules/nope/resume",
            "/api/v1/schedules/{schedule_id}/resume",
            {},
            404,
        ),
        (
            "POST",
            f"{schedule}/backfill",
            "/api/v1/schedules/{schedule_id}/backfill",
            {"json": {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}},
            400,
        ),
        (
            "POST",
            f"{schedule}/backfill",
            "/api/v1/schedules/{schedule_id}/backfill",
            {"json": {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"}},
            422,
        ),
        ("GET", "/api/v1/triggers", "/api/v1/triggers", {"headers": {}}, 401),
        ("POST", "/api/v1/triggers", "/api/v1/triggers", {"json": trigger}, 400),
        (
            "POST",
            "/api/v1/triggers",
            "/api/v1/triggers",
            {"json": {**trigger, "name": "hook", "secret_env": HOOK_ENV}},
            409,
        ),
        ("DELETE", "/api/v1/triggers/nope", "/api/v1/triggers/{name}", {}, 404),
        ("DELETE", "/api/v1/triggers/hook", "/api/v1/triggers/{name}", {}, 409),
        ("POST", "/api/v1/triggers/nope", "/api/v1/triggers/{name}", {"headers": {}}, 404),
        ("POST", "/api/v1/triggers/hook", "/api/v1/triggers/{name}", {"json": {}}, 401),
        ("POST", "/api/v1/triggers/hook", "/api/v1/triggers/{name}", signed, 400),
        ("POST", "/codec/decode", "/codec/decode", {"json": {"payloads": 1}}, 400),
        ("POST", "/codec/decode", "/codec/decode", {"json": {}, "headers": {}}, 401),
        ("POST", "/codec/decode", "/codec/decode", {"content": big}, 413),
        ("POST", "/codec/encode", "/codec/encode", {"json": {}, "headers": READER}, 403),
        ("POST", "/codec/session", "/codec/session", {"headers": {}}, 401),
    ]
    seen: dict[str, set[int]] = {}
    for method, url, route, request, status in cases:
        request = {**request, "headers": request.get("headers", ALL)}
        response = await http.request(method, url, **request)
        assert response.status_code == status, (method, url, response.text)
        documented = spec["paths"][route][method.lower()]["responses"]
        assert str(status) in documented, (method, route, status, sorted(documented))
        schema = documented[str(status)]["content"]["application/json"]["schema"]["$ref"]
        error = response.json()["error"]
        if schema.endswith("/A2AErrorBody"):
            assert error["code"] == status and isinstance(error["status"], str), error
        else:
            assert schema.endswith("/ErrorBody"), schema
            assert isinstance(error["code"], str) and "details" in error, error
        assert isinstance(error["message"], str) and error["message"], error
        seen.setdefault(route, set()).add(status)
    assert (await http.delete(schedule, headers=ALL)).status_code == 204
    # Every REST route of ours had its errors provoked.
    ours = {p for p in spec["paths"] if p.startswith("/api/")}
    assert ours <= set(seen), ours - set(seen)
