"""The service commands: `dev` (an embedded Temporal dev server, the worker and the API in
one process), `serve` (the API), `worker`, `replay` (recorded histories against this
version's workflow code) and `load` (a bounded load run on this machine)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from .. import __version__
from ..config import Config
from ..devserver import DevServer, check_port_free
from ..encryption import data_converter, keyring_of
from ..errors import ExecutorError
from ..loadtest.command import run_load
from ..observability import setup_tracing, shutdown_tracing
from ..runtime import connect, open_services, run_services
from ..workflows import WORKFLOWS, workflow_id
from .client import api_url, first_line, reachable

__all__ = ["dev", "dev_defaults", "load", "replay", "serve", "worker", "workflow_history"]

logger = logging.getLogger(__name__)


def dev_defaults(config: Config) -> None:
    """What `dev` changes in a config: webhooks on this machine are allowed (one machine:
    local receivers are what a developer tests with), unless the config says otherwise; and
    Worker Versioning is off (its one worker would wait for a promotion before taking any
    task, and a single process never needs old code for old tasks)."""
    push = config.a2a.push_notifications
    if push.allow_private_hosts is None:
        push.allow_private_hosts = ["127.0.0.0/8", "::1", "localhost"]
    if config.temporal.deployment.name is not None:
        logger.warning(
            "dev: temporal.deployment.name (%s) ignored: Worker Versioning is for fleets",
            config.temporal.deployment.name,
        )
        config.temporal.deployment.name = None


def dev(config: Config, args: argparse.Namespace) -> int:
    # Keys first: a malformed one stops `dev` before anything starts.
    encrypted = keyring_of(config.security.encryption) is not None
    # With keys, the embedded UI decrypts through our codec server (README, "Encryption").
    codec = ["--ui-codec-endpoint", f"{api_url(config)}/codec"] if encrypted else []
    server = DevServer(
        config.temporal.host_port, config.temporal.ui_port, config.resolved_state_dir(), codec
    )
    config.temporal.host_port = f"{server.ip}:{server.port}"
    _check_api_ports(config)
    dev_defaults(config)
    config.temporal.ui_url = config.temporal.ui_url or server.ui_url

    async def main() -> None:
        async with server.running():
            client = await connect(config, within=30)
            async with open_services(config, client=client) as services:

                def ready() -> None:
                    api = api_url(config)
                    codec_line = f"  Codec server {api}/codec\n" if encrypted else ""
                    print(
                        f"temporal-executor {__version__} is running\n"
                        f"  Console      {api}/ui/\n"
                        f"  API          {api}  (OpenAPI: {api}/docs)\n"
                        f"{_grpc_line(config)}"
                        f"  Temporal     {config.temporal.host_port}\n"
                        f"  Temporal UI  {server.ui_url}\n"
                        f"{codec_line}"
                        f"  state        {config.resolved_state_dir()}\n"
                        "Press Ctrl+C to stop.",
                        flush=True,
                    )

                await run_services(services, api=True, worker=True, on_ready=ready)

    _serve_forever(main(), config, "dev")
    return 0


def serve(config: Config, args: argparse.Namespace) -> int:
    _check_api_ports(config)
    return _run_services(config, api=True, worker=False)


def worker(config: Config, args: argparse.Namespace) -> int:
    return _run_services(config, api=False, worker=True)


def _check_api_ports(config: Config) -> None:
    """The API's ports are free (a clear error now rather than a failed start-up later)."""
    check_port_free(config.server.host, config.server.port, "API")
    if config.server.readiness_port is not None:
        check_port_free(config.server.host, config.server.readiness_port, "server.readiness_port")
    if config.a2a.enabled and config.a2a.grpc.enabled:
        grpc = config.a2a.grpc
        check_port_free(grpc.host or config.server.host, grpc.port, "a2a.grpc")


def _grpc_line(config: Config) -> str:
    if not (config.a2a.enabled and config.a2a.grpc.enabled):
        return ""
    host = reachable(config.a2a.grpc.host or config.server.host)
    return f"  A2A gRPC     {host}:{config.a2a.grpc.port}\n"


def _run_services(config: Config, *, api: bool, worker: bool) -> int:
    async def main() -> None:
        async with open_services(config) as services:
            what = " and ".join(n for n, on in (("API", api), ("worker", worker)) if on)

            def ready() -> None:
                where = f" on {api_url(config)}" if api else ""
                print(f"temporal-executor {what} running{where}", flush=True)

            await run_services(services, api=api, worker=worker, on_ready=ready)

    _serve_forever(main(), config, "api" if api else "worker")
    return 0


def _serve_forever(main: Coroutine[Any, Any, None], config: Config, role: str) -> None:
    """Run a service on uvloop where it is installed (a faster event loop: less CPU for every
    wake-up between the Temporal core, the database thread and the sockets), traced when the
    environment asks for it (`OTEL_*`)."""
    setup_tracing(capture_content=config.observability.capture_content, role=role)
    try:
        try:
            import uvloop
        except ImportError:  # not on this platform
            asyncio.run(main)
            return
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)
    finally:
        shutdown_tracing()


def load(config: Config, args: argparse.Namespace) -> int:
    """Exit 0 when every task completed with the right answer, 1 otherwise (the config is
    not used: the run brings its own, see `loadtest.command`)."""
    result = run_load(args.tasks, args.concurrency, args.within)
    print(result.report())
    return 0 if result.ok else 1


def replay(config: Config, args: argparse.Namespace) -> int:
    """Exit 0 when every history replays deterministically, 1 when one does not."""

    if bool(args.history) == (args.task_id is not None):
        raise ExecutorError(
            "replay: give history files (or directories) or --task-id, one of the two"
        )
    recorded = [_history(path) for path in _history_files(args.history)]

    async def histories() -> list[WorkflowHistory]:
        if recorded:
            return recorded
        client = await connect(config)
        found = []
        query = f"WorkflowId = '{workflow_id(args.task_id)}'"
        async for run in client.list_workflows(query):
            handle = client.get_workflow_handle(run.id, run_id=run.run_id)
            found.append(await handle.fetch_history())
        if not found:
            raise ExecutorError(f"no workflow runs for task {args.task_id!r}")
        return found

    async def main() -> int:
        # With the codec: histories written with encryption on are decrypted to be replayed.
        converter = data_converter(keyring_of(config.security.encryption))
        replayer = Replayer(workflows=WORKFLOWS, data_converter=converter)
        failed = 0
        # The SDK logs each failed activation at length; our verdict line says enough.
        logging.getLogger("temporalio").setLevel(logging.CRITICAL)
        for history in await histories():
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            failure = result.replay_failure
            verdict = "ok" if failure is None else f"NOT DETERMINISTIC: {first_line(failure)}"
            failed += result.replay_failure is not None
            print(f"{history.workflow_id}: {len(history.events)} events: {verdict}")
        return 1 if failed else 0

    return asyncio.run(main())


def _history_files(paths: list[str]) -> list[Path]:
    """The files named, and the `*.json` files (sorted) of the directories named."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(path.glob("*.json"))
        elif path.is_file():
            found.append(path)
        else:
            raise ExecutorError(f"no history file or directory {name}")
    if paths and not found:
        raise ExecutorError(f"no *.json history files in {', '.join(paths)}")
    return found


def _history(path: Path) -> WorkflowHistory:
    """A history file (see `workflow_history`; else named by the file's name)."""
    try:
        return workflow_history(path.read_text(encoding="utf-8"), path.stem)
    except (OSError, ValueError, json_format.Error) as exc:
        raise ExecutorError(f"cannot read the history {path}: {exc}") from exc


def workflow_history(text: str, name: str) -> WorkflowHistory:
    """A history export (JSON) with its workflow's id, which its first event holds (Temporal
    1.21 and later write it there), else `name`. A replay needs the real id: a schedule's
    run takes its task's id from its own."""
    history = WorkflowHistory.from_json(name, text)
    if history.events:
        started = history.events[0].workflow_execution_started_event_attributes
        if started.workflow_id:
            return WorkflowHistory(started.workflow_id, history.events)
    return history
