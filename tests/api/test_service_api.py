"""Auth, probes and OpenAPI of the running service."""

from __future__ import annotations

import os
from pathlib import Path

from temporal_executor import __version__
from temporal_executor.build import default_build_id
from temporal_executor.devserver import DevServer
from tests.conftest import Stack, config_data, free_port, running_stack
from tests.fakes.server import FakeServer
from tests.test_release import build_info

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}


async def test_bearer_auth(temporal: str, openai_fake: FakeServer, tmp_path: Path) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["server"]["api_keys_env"] = "TE_TEST_API_KEYS"
    os.environ["TE_TEST_API_KEYS"] = "key-one, key-two"
    try:
        async with running_stack(data) as stack:
            body = {"user_message": "hi [no tools]", "model_config": MODEL}
            denied = await stack.http.post("/api/v1/execute", json=body)
            assert denied.status_code == 401
            assert denied.json()["error"]["code"] == "unauthorized"
            wrong = await stack.http.post(
                "/api/v1/execute", json=body, headers={"Authorization": "Bearer key-three"}
            )
            assert wrong.status_code == 401
            ok = await stack.http.post(
                "/api/v1/execute?wait=true", json=body, headers={"Authorization": "Bearer key-two"}
            )
            assert ok.status_code == 200 and ok.json()["status"] == "completed"
            assert (await stack.http.get("/healthz")).status_code == 200
            assert (await stack.http.get("/a2a/message")).status_code == 401
    finally:
        del os.environ["TE_TEST_API_KEYS"]


async def test_probes_and_openapi(stack: Stack) -> None:
    assert (await stack.http.get("/healthz")).json() == {"status": "ok"}
    ready = await stack.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"temporal": "ok", "events": "ok"}
    # Which build answers: no build id configured, so this install's.
    assert ready.json()["version"] == __version__
    assert ready.json()["build_id"] == default_build_id()
    metrics = (await stack.http.get("/metrics")).text
    labels = {"version": __version__, "build_id": default_build_id()}
    assert build_info(metrics) == [(labels, 1.0)]
    spec = (await stack.http.get("/openapi.json")).json()
    for path in (
        "/api/v1/execute",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/events",
        "/api/v1/approve/{workflow_id}",
        "/api/v1/tasks/{task_id}/cancel",
        "/a2a/message",
    ):
        assert path in spec["paths"]


async def test_readyz_reports_temporal_down(openai_fake: FakeServer, tmp_path: Path) -> None:
    server = DevServer(f"127.0.0.1:{free_port()}", free_port(), tmp_path / "temporal")
    async with server.running():
        data = config_data(f"127.0.0.1:{server.port}", openai_fake.url, tmp_path)
        async with running_stack(data, worker=False) as stack:
            assert (await stack.http.get("/readyz")).status_code == 200
            server.stop()
            ready = await stack.http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["temporal"].startswith("error")
            missing = await stack.http.get("/api/v1/tasks/anything")
            assert missing.status_code == 503
            assert missing.json()["error"]["code"] == "temporal_unavailable"
