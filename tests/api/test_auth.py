"""Bearer auth with named keys and scopes: 401 for no or an unknown token, 403 for a known
key without the scope, on REST and on both A2A HTTP transports; the caller's name reaches
the handlers (the audit log names it, never the key)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from temporal_executor.api.auth import Authenticator, Caller
from temporal_executor.config import Config, Scope, load_config
from temporal_executor.config.api_keys import ALL_SCOPES, parse_api_keys
from temporal_executor.errors import ConfigError, ForbiddenError, UnauthorizedError
from tests.conftest import Stack, config_data, read_sse, running_stack, weather_tool
from tests.fakes.server import FakeServer

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
KEYS_ENV = "TE_TEST_NAMED_KEYS"
KEYS = "reader:r-secret-1,writer:w-secret-2,approver:a-secret-3,bare-secret-4"
BODY = {"user_message": "hi [no tools]", "model_config": MODEL}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def named_keys() -> Iterator[None]:
    os.environ[KEYS_ENV] = KEYS
    try:
        yield
    finally:
        del os.environ[KEYS_ENV]


@pytest.fixture
async def auth_stack(
    named_keys: None, temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["server"]["api_keys_env"] = KEYS_ENV
    data["server"]["api_key_scopes"] = {
        "reader": ["read"],
        "writer": ["read", "write"],
        "approver": ["read", "approve"],
    }
    async with running_stack(data) as stack:
        yield stack


def test_key_entries() -> None:
    keys = parse_api_keys(" ci:s1 , s2,,ops.team-1:s3:with-colon ", "V", {"ci": [Scope.READ]})
    assert [(k.name, k.secret, sorted(k.scopes)) for k in keys] == [
        ("ci", "s1", ["read"]),
        ("key-2", "s2", ["approve", "read", "write"]),
        ("ops.team-1", "s3:with-colon", ["approve", "read", "write"]),
    ]
    assert "s1" not in repr(keys)
    for raw, problem in (
        ("bad name!:secret-x", "entry 1 must be `name:key`"),
        ("a:secret-x,a:secret-y", "key name 'a' is used twice"),
        ("a:", "entry 1"),
    ):
        with pytest.raises(ConfigError, match=problem) as caught:
            parse_api_keys(raw, "V")
        assert "secret" not in caught.value.message
    with pytest.raises(ConfigError, match=r"server.api_key_scopes.nobody: no key of that name"):
        parse_api_keys("a:x", "V", {"nobody": [Scope.READ]})


def test_key_tenants() -> None:
    """`server.api_key_tenants` puts named keys in tenants; the rest are in `default`."""
    keys = parse_api_keys("a:s1,b:s2,s3", "V", {"b": [Scope.ADMIN]}, {"a": "team-a"})
    assert [(k.name, k.tenant, k.scopes) for k in keys] == [
        ("a", "team-a", ALL_SCOPES),
        ("b", "default", frozenset({Scope.ADMIN})),
        ("key-3", "default", ALL_SCOPES),
    ]
    with pytest.raises(ConfigError, match=r"server.api_key_tenants.c: no key of that name"):
        parse_api_keys("a:x", "V", tenants={"c": "team-c"})
    env = {"TEMPORAL_EXECUTOR__SERVER__API_KEY_TENANTS__CI": "team-a"}
    assert load_config(env=env).server.api_key_tenants == {"ci": "team-a"}
    for tenant in ("team a", "a~b", "a/b", "tasks", "v1", "x" * 65, ""):
        with pytest.raises(ConfigError, match=r"server.api_key_tenants") as caught:
            load_config(env={"TEMPORAL_EXECUTOR__SERVER__API_KEY_TENANTS__CI": f"'{tenant}'"})
        assert "not a tenant name" in caught.value.message, caught.value.message
    caller = Authenticator(keys).authenticate("Bearer s1")
    assert caller is not None and (caller.tenant, caller.admin) == ("team-a", False)


def test_scopes_in_config_are_checked() -> None:
    env = {"TEMPORAL_EXECUTOR__SERVER__API_KEY_SCOPES__CI": "[read, fly]"}
    with pytest.raises(ConfigError, match=r"server.api_key_scopes.ci.1"):
        load_config(env=env)
    config = Config.model_validate({"server": {"api_key_scopes": {"ci": ["read"]}}})
    assert config.server.api_key_scopes == {"ci": [Scope.READ]}


def test_authenticator() -> None:
    auth = Authenticator(parse_api_keys(KEYS, "V", {"reader": [Scope.READ]}))
    reader = auth.authenticate("Bearer r-secret-1")
    assert reader == Caller("reader", frozenset({Scope.READ}))
    # A key without configured scopes may do everything in its tenant, not see the others.
    assert auth.authenticate(b"bearer  bare-secret-4 ") == Caller("key-4", ALL_SCOPES)
    for header in (None, "", "Bearer", "Basic r-secret-1", "Bearer r-secret-", "Bearer x" * 999):
        with pytest.raises(UnauthorizedError):
            auth.authenticate(header)
    with pytest.raises(ForbiddenError) as refused:
        reader.require(Scope.WRITE)
    assert refused.value.details == {"scope": "write"} and refused.value.http_status == 403
    assert Authenticator([]).authenticate(None) is None  # auth off: no caller


async def test_401_and_403_on_rest(auth_stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    http = auth_stack.http
    for headers in ({}, bearer("nope"), {"Authorization": "Basic cjpy"}):
        denied = await http.post("/api/v1/execute", json=BODY, headers=headers)
        assert denied.status_code == 401, denied.text
        assert denied.json()["error"]["code"] == "unauthorized"
        assert denied.headers["www-authenticate"].startswith("Bearer")
        assert "r-secret-1" not in denied.text
    refused = await http.post("/api/v1/execute", json=BODY, headers=bearer("r-secret-1"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == {
        "code": "forbidden",
        "message": "key 'reader' may not do this: it needs the 'write' scope",
        "details": {"scope": "write"},
    }
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    listed = await http.get("/api/v1/tasks", headers=bearer("r-secret-1"))
    assert listed.status_code == 200, listed.text

    task_id = f"auth-{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.INFO, logger="temporal_executor.api.routes"):
        started = await http.post(
            "/api/v1/execute?wait=true",
            json={**BODY, "task_id": task_id},
            headers=bearer("w-secret-2"),
        )
        assert started.status_code == 200 and started.json()["status"] == "completed"
        for secret in ("w-secret-2", "a-secret-3"):  # the writer may not approve; approver may
            approve = await http.post(
                f"/api/v1/approve/agent-execution-{task_id}",
                json={"approved": True},
                headers=bearer(secret),
            )
            assert approve.status_code == (403 if secret.startswith("w") else 409), approve.text
        bare = await http.post(f"/api/v1/tasks/{task_id}/cancel", headers=bearer("bare-secret-4"))
        assert bare.status_code == 409  # the bare key may do everything: it ended already
    audit = [r.getMessage() for r in caplog.records]
    assert f"task submitted: {task_id} by key 'writer'" in audit, audit
    assert not any("secret" in line for line in audit)
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/.well-known/agent-card.json")).status_code == 200


async def test_401_and_403_on_a2a(auth_stack: Stack) -> None:
    http = auth_stack.http
    message: dict[str, Any] = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "parts": [{"text": "hi [no tools]"}],
    }

    def rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": 3, "method": method, "params": params}

    denied = await http.post("/a2a", json=rpc("GetTask", {"id": "x"}))
    assert denied.status_code == 401 and "www-authenticate" in denied.headers
    got = await http.post("/a2a", json=rpc("GetTask", {"id": "x"}), headers=bearer("r-secret-1"))
    assert got.status_code == 200 and got.json()["error"]["code"] == -32001
    for method in ("SendMessage", "message/send"):
        refused = await http.post(
            "/a2a", json=rpc(method, {"message": message}), headers=bearer("r-secret-1")
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["details"] == {"scope": "write"}
    # A message that names a task answers it (an approval): `approve`, not `write`.
    answer = {"message": {**message, "taskId": "some-task"}}
    refused = await http.post("/a2a", json=rpc("SendMessage", answer), headers=bearer("w-secret-2"))
    assert refused.status_code == 403 and refused.json()["error"]["details"] == {"scope": "approve"}
    allowed = await http.post("/a2a", json=rpc("SendMessage", answer), headers=bearer("a-secret-3"))
    assert allowed.status_code == 200 and allowed.json()["error"]["code"] == -32001

    rest = await http.post("/a2a/rest/message:send", json={"message": message})
    assert rest.status_code == 401
    assert rest.json()["error"]["status"] == "UNAUTHENTICATED"
    rest = await http.post(
        "/a2a/rest/message:send", json={"message": message}, headers=bearer("r-secret-1")
    )
    assert rest.status_code == 403
    assert rest.json()["error"] == {
        "code": 403,
        "status": "PERMISSION_DENIED",
        "message": "key 'reader' may not do this: it needs the 'write' scope",
    }
    subscribe = await http.post("/a2a/rest/v1/tasks/x:subscribe", headers=bearer("r-secret-1"))
    assert subscribe.status_code == 404  # read suffices; the task does not exist
    sent = await http.post(
        "/a2a/rest/message:send", json={"message": message}, headers=bearer("w-secret-2")
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


async def _parked(http: httpx.AsyncClient, tool_server: FakeServer) -> httpx.Response:
    """A task the writer started that waits for approval of its weather call."""
    return await http.post(
        "/api/v1/execute?wait=true",
        json={**BODY, "user_message": "weather?", "tools": [weather_tool(tool_server)]}
        | {"require_approval": True},
        headers=bearer("w-secret-2"),
    )


async def test_the_decision_names_the_key(auth_stack: Stack, tool_server: FakeServer) -> None:
    """`approval.decided` says who decided: the approving key's name (`Caller.name`)."""
    http = auth_stack.http
    parked = await _parked(http, tool_server)
    assert parked.json()["status"] == "awaiting_approval", parked.text
    task_id = parked.json()["task_id"]
    decided = await http.post(
        f"/api/v1/approve/agent-execution-{task_id}",
        json={"approved": True},
        headers=bearer("a-secret-3"),
    )
    assert decided.status_code == 200, decided.text
    async with httpx.AsyncClient(base_url=auth_stack.url, headers=bearer("r-secret-1")) as reader:
        events = await read_sse(reader, task_id)
    (audit,) = [e["data"] for e in events if e["event"] == "approval.decided"]
    assert audit["by"] == "approver"


async def test_an_a2a_decision_names_the_key_too(
    auth_stack: Stack, tool_server: FakeServer
) -> None:
    """Approving over A2A: `approval.decided.by` is the key's name, as over REST."""
    http = auth_stack.http
    parked = await _parked(http, tool_server)
    task_id = parked.json()["task_id"]
    message = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "taskId": task_id,
        "parts": [{"text": "approve"}],
    }
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    decided = await http.post(
        "/a2a", json=rpc, headers=bearer("a-secret-3") | {"A2A-Version": "1.0"}
    )
    assert decided.status_code == 200 and "error" not in decided.json(), decided.text
    async with httpx.AsyncClient(base_url=auth_stack.url, headers=bearer("r-secret-1")) as reader:
        events = await read_sse(reader, task_id)
    (audit,) = [e["data"] for e in events if e["event"] == "approval.decided"]
    assert audit["by"] == "approver" and audit["approved"] is True
