"""Encryption at rest, end to end: `temporal-executor dev` as a process, with one config line
(`security.encryption.enabled`) and a key in the environment, keys for two tenants and an
admin, traces to an OTLP receiver, logging at debug level.

A task whose prompt, tool arguments, tool result and answer carry a marker completes,
streams and is approvable as before, and so does one with a text file (with the marker) whose
tool makes an image (an artifact): both download as they were. The marker is then in no file
under the state
directory (Temporal's SQLite file and log, our event store), in no log line, trace or
metric. The codec server (and the Temporal CLI through it) decrypts the task's history for
its tenant's key and an admin's, not for another tenant's; `dev` has wired its embedded UI
to it. A schedule's template (in the store and in Temporal) and its run's history are
sealed as its tenant's too. Rotated (`dev` again with a new key in front), the old task still
reads, streams and decrypts, a new one runs, `temporal-executor rekey`, run beside it, moves
the whole store to the new key, and `temporal-executor replay` replays the encrypted history
with the keys."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from google.protobuf import json_format
from google.protobuf.message import Message as Proto
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.workflowservice.v1 import DescribeScheduleRequest
from temporalio.client import Client

from temporal_executor.devserver import find_temporal_cli
from temporal_executor.encryption import payload_tenant
from tests.conftest import (
    config_data,
    enqueue,
    fake_requests,
    free_port,
    read_sse,
    weather_tool,
    write_config,
)
from tests.encryption.keys import entry
from tests.fakes.samples import PNG
from tests.fakes.server import FakeServer
from tests.integration.test_media import chart_tool
from tests.observability.otlp_receiver import OTLPReceiver
from tests.processes import service_process, wait_healthy

KEYS_ENV = "TE_ENC_TEST_KEYS"
API_KEYS_ENV = "TE_ENC_TEST_API_KEYS"
MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
SEALED = (
    ("events", "data"),
    ("messages", "body"),
    ("tasks", "state"),
    ("blobs", "data"),
    ("definitions", "data"),
)
SCHEDULE = "agent-schedule-team-a~enc-hourly"  # alice's schedule, in Temporal
MARK = uuid.uuid4().hex[:10]
ALICE, BOB, ROOT = (f"{who}-key-{MARK}" for who in ("alice", "bob", "root"))


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def payloads_of(message: Proto) -> list[Payload]:
    """Every Payload anywhere in a protobuf message (a workflow history)."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = list(value.values())
        else:  # a message, or a repeated field of them
            values = [value] if isinstance(value, Proto) else list(value)
        for item in values:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Proto):
                found += payloads_of(item)
    return found


@contextlib.contextmanager
def dev(config: Path, log: Path, keys: str, receiver: OTLPReceiver) -> Iterator[None]:
    env = {
        **os.environ,
        KEYS_ENV: keys,
        API_KEYS_ENV: f"alice:{ALICE},bob:{BOB},root:{ROOT}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    options = ["--log-level", "debug"]
    with service_process(config, log, "dev", env=env, options=options, process_group=True):
        yield


async def run_task(http: httpx.AsyncClient, task_id: str, marker: str, tool: Any) -> list[Any]:
    """A task that asks for approval of its tool call, approved: its events as streamed."""
    body = {
        "task_id": task_id,
        "user_message": f"weather for {marker}",
        "model_config": MODEL,
        "tools": [tool],
        "require_approval": True,
    }
    response = await http.post("/api/v1/execute", json=body)
    assert response.status_code == 202, response.text
    events: list[dict[str, Any]] = []
    await read_sse(http, task_id, until="approval.required", into=events)
    path = f"/api/v1/approve/agent-execution-{task_id}"
    # Refused by the workflow: its failure, encrypted on the way, reads as before.
    wrong = await http.post(path, json={"approved": True, "arguments": {"query": 7}})
    assert wrong.status_code == 422, wrong.text
    assert "arguments.query" in wrong.json()["error"]["message"]
    decided = await http.post(path, json={"approved": True})
    assert decided.status_code == 200, decided.text
    return events + await read_sse(http, task_id, events[-1]["id"])


async def run_with_files(
    http: httpx.AsyncClient, marker: str, tools: FakeServer, llm: FakeServer
) -> list[bytes]:
    """A task with a text file carrying `marker`, whose tool answers an image: both download
    as they were. Returns their contents as the store keeps a blob when not sealed (base64)."""
    # The tool is called with arguments of its own: the chart tool GETs them as its URL's
    # query, which an HTTP client span shows (as it would the weather tool's, were it GET).
    await enqueue(llm, [{"tool_calls": [{"name": "chart", "arguments": {"query": "sales"}}]}])
    notes = f"notes on {marker}".encode()
    file = {"type": "file", "media_type": "text/plain", "name": "notes.txt"}
    body = {
        "task_id": "enc-files",
        "user_message": [
            {"type": "text", "text": "read this"},
            file | {"data": base64.b64encode(notes).decode()},
        ],
        "model_config": MODEL,
        "tools": [chart_tool(tools)],
    }
    response = await http.post("/api/v1/execute?wait=true", json=body)
    task = response.json()
    assert task["status"] == "completed", task
    (made,) = task["artifacts"]
    path = "/api/v1/tasks/enc-files"
    assert (await http.get(f"{path}/artifacts/{made['artifact_id']}")).content == PNG
    assert (await http.get(f"{path}/inputs/0")).content == notes
    return [base64.b64encode(content) for content in (notes, PNG)]


async def cli(config: Path, *args: str) -> tuple[int, str]:
    """`temporal-executor --config CONFIG ARGS` beside `dev`, with the rotated keys."""
    env = {**os.environ, KEYS_ENV: entry("k2", "k1")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "temporal_executor", "--config", str(config), *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def decode(http: httpx.AsyncClient, payloads: list[Payload], **headers: str) -> Any:
    body = json_format.MessageToJson(Payloads(payloads=payloads))
    headers = {"Content-Type": "application/json", "X-Namespace": "default", **headers}
    return await http.post("/codec/decode?preserveStorageRefs=true", content=body, headers=headers)


def opened(response: httpx.Response) -> list[bytes]:
    assert response.status_code == 200, response.text
    return [p.data for p in json_format.Parse(response.text, Payloads()).payloads]


def show(target: str, workflow: str, url: str, key: str) -> str:
    """`temporal workflow show` through the codec server, as an operator runs it: the data of
    the payloads it shows, as one text."""
    done = subprocess.run(
        [
            *(find_temporal_cli(), "workflow", "show", "--address", target, "-w", workflow),
            *("--codec-endpoint", f"{url}/codec", "--codec-auth", f"Bearer {key}", "-o", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return " ".join(_payload_data(json.loads(done.stdout)))


def _payload_data(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "metadata" in node and isinstance(node.get("data"), str):
            yield base64.b64decode(node["data"]).decode(errors="replace")
        for value in node.values():
            yield from _payload_data(value)
    elif isinstance(node, list):
        for value in node:
            yield from _payload_data(value)


async def scheduled_run(http: httpx.AsyncClient, raw: Client, marker: str) -> None:
    """A schedule's template (a prompt with `marker`) is sealed in Temporal as its tenant's,
    and so is its run's history (a backfill); the run's task completes; the owner's key
    decrypts them, another tenant's does not."""
    template = {"user_message": f"hourly {marker}", "model_config": MODEL}
    body = {"schedule_id": "enc-hourly", "template": template, "interval": "1h", "paused": True}
    assert (await http.post("/api/v1/schedules", json=body)).status_code == 201
    view = (await http.get("/api/v1/schedules/enc-hourly")).json()
    assert marker in view["template"]["user_message"]
    request = DescribeScheduleRequest(namespace="default", schedule_id=SCHEDULE)
    action = payloads_of(await raw.workflow_service.describe_schedule(request))
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
    backfilled = await http.post("/api/v1/schedules/enc-hourly/backfill", json=window)
    assert backfilled.status_code == 202, backfilled.text
    (time,) = [datetime.fromisoformat(t) for t in backfilled.json()["times"]]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ")
    for _ in range(300):
        task = (await http.get(f"/api/v1/tasks/enc-hourly-{stamp}")).json()
        if task.get("status") == "completed":
            break
        await asyncio.sleep(0.2)
    assert marker in task["result"]["content"], task
    run = await raw.get_workflow_handle(f"{SCHEDULE}-{stamp}").fetch_history()
    every = action + [p for e in run.events for p in payloads_of(e)]
    assert not any(marker.encode() in p.SerializeToString() for p in every)
    sealed = [p for p in every if p.metadata["encoding"] == b"binary/encrypted"]
    # The others are the search attributes Temporal sets on a run (schedule id, time).
    assert len(every) - len(sealed) == 2
    assert len(sealed) > 3 and all(payload_tenant(p) == "team-a" for p in sealed)
    assert sum(marker.encode() in d for d in opened(await decode(http, sealed))) >= 2
    assert opened(await decode(http, sealed, **auth(BOB))) == [p.data for p in sealed]


async def test_encrypted_at_rest_decrypted_for_the_owner(
    openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    first, second = f"MARKER-first-{MARK}", f"MARKER-second-{MARK}"
    data = config_data("127.0.0.1:7233", openai_fake.url, tmp_path)
    target = f"127.0.0.1:{free_port()}"
    ui_port = free_port()
    data["temporal"].update(host_port=target, ui_port=ui_port)
    data["events"].pop("url")  # the default: events.db in the state directory
    data["server"].update(
        api_keys_env=API_KEYS_ENV,
        api_key_tenants={"alice": "team-a", "bob": "team-b"},
        api_key_scopes={"root": ["read", "write", "approve", "admin"]},
    )
    data["security"] = {"encryption": {"enabled": True, "keys_env": KEYS_ENV}}
    config = write_config(data, tmp_path / "config.yaml")
    state = Path(data["state_dir"])
    url = f"http://127.0.0.1:{data['server']['port']}"
    ui = f"http://127.0.0.1:{ui_port}"
    logs = [tmp_path / "dev-1.log", tmp_path / "dev-2.log"]
    tool = weather_tool(tool_server)
    workflow = "agent-execution-team-a~enc-1"

    with OTLPReceiver() as receiver:
        with dev(config, logs[0], entry("k1"), receiver):
            await wait_healthy(url, within=120)
            async with httpx.AsyncClient(base_url=url, timeout=60, headers=auth(ALICE)) as http:
                events = await run_task(http, "enc-1", first, tool)
                types = [e["event"] for e in events]
                assert types[-1] == "task.completed", types
                assert "llm.delta" in types and "approval.required" in types
                (result,) = [e["data"] for e in events if e["event"] == "tool.result"]
                assert first in json.dumps(result)
                task = (await http.get("/api/v1/tasks/enc-1")).json()
                assert task["status"] == "completed" and first in task["result"]["content"]
                unsealed = await run_with_files(http, first, tool_server, openai_fake)
                with sqlite3.connect(state / "events.db") as db:  # (before any rekey)
                    query = "SELECT key, data FROM blobs WHERE key LIKE 'team-a~enc-files/%'"
                    blobs = dict(db.execute(query).fetchall())
                kept = [k for k in blobs if "/input/" in k or "/artifact/" in k]
                assert len(kept) == 2, sorted(blobs)
                assert all(blobs[k].startswith("$te-enc:1:k1:") for k in kept)

                raw = await Client.connect(target)  # no codec: what Temporal holds
                history = await raw.get_workflow_handle(workflow).fetch_history()
                sealed = [
                    p
                    for p in [p for e in history.events for p in payloads_of(e)]
                    if p.metadata["encoding"] == b"binary/encrypted"
                ]
                assert len(sealed) > 5
                assert not any(
                    first.encode() in p.SerializeToString()
                    for p in [p for e in history.events for p in payloads_of(e)]
                )
                assert any(first.encode() in d for d in opened(await decode(http, sealed)))
                other = await decode(http, sealed, **auth(BOB))
                assert opened(other) == [p.data for p in sealed]  # another tenant: ciphertext
                assert any(
                    first.encode() in d for d in opened(await decode(http, sealed, **auth(ROOT)))
                )
                assert (await decode(http, sealed, Authorization="Bearer nope")).status_code == 401

                # The Temporal CLI through the codec server: the owner's key decrypts.
                assert first in show(target, workflow, url, ALICE)
                assert first not in show(target, workflow, url, BOB)

                # The embedded UI calls our codec server; CORS lets only its origin read.
                settings = (await http.get(f"{ui}/api/v1/settings")).json()
                assert settings["Codec"]["Endpoint"] == f"{url}/codec"
                preflight = {
                    "Origin": ui,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-namespace",
                }
                allowed = await http.options(
                    "/codec/decode?preserveStorageRefs=true", headers=preflight
                )
                assert allowed.status_code == 204
                assert allowed.headers["access-control-allow-origin"] == ui
                assert allowed.headers["access-control-allow-credentials"] == "true"
                foreign = await http.options(
                    "/codec/decode", headers={**preflight, "Origin": "http://evil.example"}
                )
                assert "access-control-allow-origin" not in foreign.headers
                # The cookie route (the embedded UI sends no bearer token).
                started = await http.post("/codec/session")
                assert started.status_code == 204
                cookie = started.cookies["te_codec"]
                async with httpx.AsyncClient(base_url=url, cookies={"te_codec": cookie}) as ui_like:
                    by_cookie = await decode(ui_like, sealed, Origin=ui)
                    assert by_cookie.headers["access-control-allow-origin"] == ui
                    assert any(first.encode() in d for d in opened(by_cookie))
                    forged = await decode(ui_like, sealed, Cookie=f"te_codec={cookie}x")
                    assert forged.status_code == 401

                metrics = (await http.get("/metrics")).text
                assert "llm" in metrics and first not in metrics

                await scheduled_run(http, raw, first)

        # Rotated: k2 in front, k1 kept for what it sealed.
        with dev(config, logs[1], entry("k2", "k1"), receiver):
            await wait_healthy(url, within=120)
            async with httpx.AsyncClient(base_url=url, timeout=60, headers=auth(ALICE)) as http:
                old = (await http.get("/api/v1/tasks/enc-1")).json()
                assert first in old["result"]["content"]
                replayed = await read_sse(http, "enc-1")
                assert any(first in json.dumps(e["data"]) for e in replayed)
                events = await run_task(http, "enc-2", second, tool)
                assert events[-1]["event"] == "task.completed"
                code, out = await cli(config, "rekey")
                assert code == 0 and "encrypted with key 'k2'" in out, out
                # The replayer decrypts the history (k1 and k2 payloads) with the keys.
                code, out = await cli(config, "replay", "--task-id", "team-a~enc-2")
                assert code == 0 and "agent-execution-team-a~enc-2: " in out and ": ok" in out, out
                assert any(first.encode() in d for d in opened(await decode(http, sealed)))
                again = (await http.get("/api/v1/tasks/enc-1")).json()
                assert first in again["result"]["content"]
        spans = receiver.bodies

    with sqlite3.connect(state / "events.db") as db:
        values = [
            value
            for table, column in SEALED
            for (value,) in db.execute(f"SELECT {column} FROM {table}")
        ]
    assert len(values) > 20 and all(v.startswith("$te-enc:1:k2:") for v in values)

    # The markers went through (the fake LLM saw them), and are nowhere at rest.
    assert first in json.dumps(await fake_requests(openai_fake))
    files = [p for p in state.rglob("*") if p.is_file()]  # noqa: ASYNC240
    assert any(p.name == "temporal.db" for p in files) and any(p.name == "events.db" for p in files)
    for path in [*files, *logs]:
        content = path.read_bytes()
        for marker in (first.encode(), second.encode(), *unsealed):
            assert marker not in content, f"{marker!r} in {path}"
    assert spans and not any(first.encode() in body for body in spans)
