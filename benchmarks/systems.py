"""The systems the benchmarks drive, each started as real processes on 127.0.0.1: the scripted
LLM and tool (`temporal_executor.loadtest.scripted`), our service (`dev`, or `serve` +
`worker`), and the calls a client makes to it (REST, A2A)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from .common import Proc, free_port, python, spawn, wait_port

KEY_ENV = "BENCH_LLM_KEY"
MODEL = {"provider": "openai", "model": "gpt-4o-mini", "stream": False}


@contextlib.contextmanager
def scripted(
    workdir: Path, token_interval: float = 0.02, options: Sequence[str] = ()
) -> Iterator[str]:
    """The scripted LLM and tool server (`options`: its limits, see `loadtest/scripted.py`);
    yields its base URL."""
    port = free_port()
    argv = python("-m", "temporal_executor.loadtest.scripted", "--port", str(port))
    argv += ["--token-interval", str(token_interval), *options]
    with spawn("scripted", argv, workdir) as proc:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"


def weather_tool(scripted_url: str) -> dict[str, Any]:
    return {
        "name": "get_weather",
        "description": "Get current weather for a location",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        "type": "http",
        "config": {"endpoint": f"{scripted_url}/weather"},
    }


def config(workdir: Path, scripted_url: str, temporal: str, **executor: Any) -> Path:
    """Our config for a benchmark: the scripted LLM, its tool as the A2A agent's, SQLite."""
    data = {
        "temporal": {"host_port": temporal, "task_queue": f"bench-{uuid.uuid4().hex[:8]}"},
        "executor": {"max_iterations": 5, **executor},
        "llm": {
            "providers": [
                {
                    "name": "openai",
                    "api_key_env": KEY_ENV,
                    "config": {"base_url": f"{scripted_url}/v1"},
                }
            ]
        },
        "tools": {"allow_private_hosts": ["127.0.0.0/8"]},
        "events": {"url": f"sqlite:///{workdir / 'events.db'}"},
        "server": {"host": "127.0.0.1", "port": free_port(), "api_keys_env": None},
        # A worker serves its metrics as in production, on a port of its own (the machine
        # is shared: the default 9464 may be taken).
        "observability": {"metrics_port": free_port()},
        "a2a": {
            "default_agent": {
                "system_message": "You are a weather assistant.",
                "model_config": MODEL,
                "tools": [weather_tool(scripted_url)],
            }
        },
        "state_dir": str(workdir / "state"),
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@dataclass
class Ours:
    """Our service: `url` is its API; `procs` the processes that are ours (not Temporal)."""

    url: str
    procs: list[Proc]


def api_url(config_path: Path) -> str:
    port = yaml.safe_load(config_path.read_text())["server"]["port"]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def split(
    workdir: Path, config_path: Path, env: dict[str, str] | None = None, workers: int = 1
) -> Iterator[Ours]:
    """`serve` and `worker` (that many), as production runs them (`env`: more of their
    environment)."""
    command = python("-m", "temporal_executor", "--config", str(config_path))
    env = {KEY_ENV: "sk-bench", **(env or {})}
    with contextlib.ExitStack() as running:
        procs = [running.enter_context(spawn("api", [*command, "serve"], workdir, env))]
        for n in range(workers):
            name = "worker" if workers == 1 else f"worker-{n + 1}"
            procs.append(running.enter_context(spawn(name, [*command, "worker"], workdir, env)))
        yield Ours(api_url(config_path), procs)


@contextlib.contextmanager
def dev(workdir: Path, config_path: Path) -> Iterator[Ours]:
    """`temporal-executor dev`: its own Temporal server (SQLite file), worker and API in one
    process."""
    data = yaml.safe_load(config_path.read_text())
    data["temporal"]["host_port"] = f"127.0.0.1:{free_port()}"
    data["temporal"]["ui_port"] = free_port()
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    command = python("-m", "temporal_executor", "--config", str(config_path), "dev")
    with spawn("dev", command, workdir, env={KEY_ENV: "sk-bench"}) as proc:
        yield Ours(api_url(config_path), [proc])


async def rest_task(http: httpx.AsyncClient, scripted_url: str, text: str) -> None:
    """The 1-tool task over REST, to its end; raises unless it answered right."""
    body = {"user_message": text, "model_config": MODEL, "tools": [weather_tool(scripted_url)]}
    response = await http.post("/api/v1/execute?wait=true", json=body)
    task = response.json()
    if task.get("status") != "completed" or "sunny" not in task["result"]["content"]:
        raise RuntimeError(f"unexpected answer: {response.text[:300]}")


def a2a_message(text: str) -> dict[str, Any]:
    """A blocking A2A 0.3 `message/send` (the protocol kagent-adk 0.10 speaks)."""
    return {
        "jsonrpc": "2.0",
        "id": uuid.uuid4().hex,
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "messageId": uuid.uuid4().hex,
                "role": "user",
                "parts": [{"kind": "text", "text": text}],
            },
            "configuration": {"blocking": True},
        },
    }


async def a2a_task(http: httpx.AsyncClient, path: str, text: str) -> None:
    """The 1-tool task over A2A JSON-RPC, to its end; raises unless it answered right."""
    response = await http.post(path, json=a2a_message(text))
    result = response.json().get("result") or {}
    state = (result.get("status") or {}).get("state")
    if state != "completed" or "sunny" not in response.text:
        raise RuntimeError(f"unexpected answer: {response.text[:300]}")
