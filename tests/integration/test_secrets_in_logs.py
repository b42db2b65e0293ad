"""Secrets never reach a log or an error: `serve`, `worker` and the `run` client as
processes at debug level, a provider key in the environment, an API key in use, HTTP tools
with a secret header (one that answers, one whose host refuses the connection, one that
fails at the provider), and every line any of them wrote is scanned for every secret."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import config_data, enqueue, free_port, weather_tool, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process, wait_healthy

PROVIDER_KEY_ENV = "TE_SECRET_PROVIDER_KEY"
API_KEYS_ENV = "TE_SECRET_API_KEYS"
MODEL = {"provider": "openai", "model": "gpt-4o-mini"}


async def test_no_secret_in_any_log_or_error(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    mark = uuid.uuid4().hex[:12]
    provider_key = f"sk-provider-secret-{mark}"
    api_key = f"api-secret-{mark}"
    tool_key = f"tool-secret-{mark}"
    secrets = (provider_key, api_key, tool_key)

    data = config_data(temporal, openai_fake.url, tmp_path)
    data["llm"]["providers"][0]["api_key_env"] = PROVIDER_KEY_ENV
    data["server"]["api_keys_env"] = API_KEYS_ENV
    config = write_config(data, tmp_path / "config.yaml")
    env = {**os.environ, PROVIDER_KEY_ENV: provider_key, API_KEYS_ENV: f"ci:{api_key}"}
    url = f"http://127.0.0.1:{data['server']['port']}"
    tool = weather_tool(tool_server)
    tool["config"]["headers"] = {"X-Api-Key": tool_key}
    refused = {**tool, "name": "closed_port"}
    refused["config"] = {**tool["config"], "endpoint": f"http://127.0.0.1:{free_port()}/x"}
    logs = [tmp_path / "api.log", tmp_path / "worker.log", tmp_path / "run.log"]
    answers: list[str] = []
    debug = ["--log-level", "debug"]

    with (
        service_process(config, logs[0], "serve", env=env, options=debug),
        service_process(config, logs[1], "worker", env=env, options=debug),
    ):
        await wait_healthy(url)
        async with httpx.AsyncClient(
            base_url=url, timeout=60, headers={"Authorization": f"Bearer {api_key}"}
        ) as http:

            async def execute(**body: Any) -> dict[str, Any]:
                body = {"user_message": "weather?", "model_config": MODEL, **body}
                response = await http.post("/api/v1/execute?wait=true", json=body)
                answers.append(response.text)
                assert response.status_code == 200, response.text
                task: dict[str, Any] = response.json()
                events = await http.get(f"/api/v1/tasks/{task['task_id']}/events")
                answers.append(events.text)
                return task

            done = await execute(tools=[tool])
            assert done["status"] == "completed", done
            calls = (await http.get(tool_server.base_url + "/_tool/calls")).json()
            assert [c["api_key"] for c in calls] == [tool_key]  # the header was sent
            failed_tool = await execute(tools=[refused])
            assert failed_tool["status"] == "completed", failed_tool  # the LLM was told
            await enqueue(openai_fake, [{"status": 401}])  # not retried: the task fails
            failed = await execute(user_message="hi [no tools]", tools=[tool])
            assert failed["status"] == "failed", failed
            for wrong in (f"{api_key}x", api_key[:-1], "Basic " + api_key):
                denied = await http.get("/api/v1/tasks", headers={"Authorization": wrong})
                assert denied.status_code == 401
                answers.append(denied.text + json.dumps(dict(denied.headers)))

        tools_file = tmp_path / "tools.json"
        tools_file.write_text(json.dumps([tool]))
        command = ["--config", str(config), *debug, "run", "weather?", "--url", url]
        command += ["--task-id", f"cli-{mark}", "--priority", "4"]
        with logs[2].open("wb") as out:  # the client: its key from the keys variable
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "temporal_executor",
                *command,
                "--tools",
                str(tools_file),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
            returncode = await asyncio.wait_for(client.wait(), 120)
        assert returncode == 0, logs[2].read_text()
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {api_key}"}
        ) as http:
            ran = (await http.get(f"/api/v1/tasks/cli-{mark}")).json()
        assert (ran["status"], ran["priority"]) == ("completed", 4), ran  # run --priority

    texts = {log.name: log.read_text(errors="replace") for log in logs}
    for name in ("api.log", "worker.log"):  # the client may have nothing to say at debug
        assert " DEBUG " in texts[name], f"{name} has no debug lines: not a debug-level run"
    assert "[completed" in texts["run.log"], texts["run.log"]
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{name} contains a secret ({secret[:10]}…)"
    assert done["task_id"] in texts["worker.log"] + texts["api.log"]
    for answer in answers:
        for secret in secrets:
            assert secret not in answer, f"an API answer contains a secret: {answer[:300]}"
