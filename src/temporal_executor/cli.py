"""The `temporal-executor` command: `dev`, `serve`, `worker`, `run`, `approve`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from . import __version__
from .config import Config, load_config
from .devserver import DevServer, check_port_free
from .errors import ExecutorError
from .runtime import connect, open_services, run_services
from .workflows import AgentExecutionWorkflow, workflow_id

__all__ = ["main"]

URL_ENV = "TEMPORAL_EXECUTOR_URL"
TOKEN_ENV = "TEMPORAL_EXECUTOR_TOKEN"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpx2"):  # a line per request
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = load_config(getattr(args, "config_path", None) or args.config)
        if args.state_dir:
            config.state_dir = Path(args.state_dir)
        result: int = args.handler(config, args)
        return result
    except ExecutorError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="temporal-executor", description="LLM agents as durable Temporal workflows."
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--config", help="config file (default: $TEMPORAL_EXECUTOR_CONFIG, else built-in)"
    )
    parser.add_argument("--state-dir", help="state directory (default: $XDG_STATE_HOME/...)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, handler, text in (
        ("dev", _dev, "embedded Temporal dev server + worker + API, one process"),
        ("serve", _serve, "the API only (Temporal must be running)"),
        ("worker", _worker, "the Temporal worker only"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("config_path", nargs="?", metavar="CONFIG", help="config file")
        command.set_defaults(handler=handler)

    run = commands.add_parser("run", help="submit a task and print its events live")
    run.add_argument("prompt")
    run.add_argument("--provider")
    run.add_argument("--model")
    run.add_argument("--system", help="system message")
    run.add_argument("--tools", metavar="FILE", help="JSON file with a list of tool specs")
    run.add_argument("--require-approval", action="store_true", default=None)
    run.add_argument("--max-iterations", type=int)
    run.add_argument("--task-id")
    run.add_argument("--session-id")
    run.add_argument("--no-stream", action="store_true", help="non-streaming LLM calls")
    run.add_argument("--url", help=f"API URL (default: ${URL_ENV}, else from config)")
    run.set_defaults(handler=_run)

    replay = commands.add_parser(
        "replay", help="replay recorded workflow histories against this version's workflow code"
    )
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("history", nargs="?", help="a history JSON file (Temporal UI / CLI export)")
    source.add_argument("--task-id", help="fetch every run of this task from Temporal")
    replay.set_defaults(handler=_replay)

    approve = commands.add_parser("approve", help="approve (or reject) a pending tool call")
    approve.add_argument("task_id")
    approve.add_argument("--reject", action="store_true")
    approve.add_argument("--reason")
    approve.add_argument("--url", help=f"API URL (default: ${URL_ENV}, else from config)")
    approve.set_defaults(handler=_approve)
    return parser


# --- service commands ----------------------------------------------------------------------


def dev_defaults(config: Config) -> None:
    """What `dev` changes in a config: webhooks on this machine are allowed (one machine:
    local receivers are what a developer tests with), unless the config says otherwise."""
    push = config.a2a.push_notifications
    if push.allow_private_hosts is None:
        push.allow_private_hosts = ["127.0.0.0/8", "::1", "localhost"]


def _dev(config: Config, args: argparse.Namespace) -> int:
    server = DevServer(
        config.temporal.host_port, config.temporal.ui_port, config.resolved_state_dir()
    )
    config.temporal.host_port = f"{server.ip}:{server.port}"
    check_port_free(config.server.host, config.server.port, "API")
    dev_defaults(config)

    async def main() -> None:
        async with server.running():
            client = await connect(config, within=30)
            async with open_services(config, client=client) as services:

                def ready() -> None:
                    api = _api_url(config)
                    print(
                        f"temporal-executor {__version__} is running\n"
                        f"  API          {api}  (OpenAPI: {api}/docs)\n"
                        f"  Temporal     {config.temporal.host_port}\n"
                        f"  Temporal UI  {server.ui_url}\n"
                        f"  state        {config.resolved_state_dir()}\n"
                        "Press Ctrl+C to stop.",
                        flush=True,
                    )

                await run_services(services, api=True, worker=True, on_ready=ready)

    _serve_forever(main())
    return 0


def _serve(config: Config, args: argparse.Namespace) -> int:
    check_port_free(config.server.host, config.server.port, "API")
    return _run_services(config, api=True, worker=False)


def _worker(config: Config, args: argparse.Namespace) -> int:
    return _run_services(config, api=False, worker=True)


def _run_services(config: Config, *, api: bool, worker: bool) -> int:
    async def main() -> None:
        async with open_services(config) as services:
            what = " and ".join(n for n, on in (("API", api), ("worker", worker)) if on)

            def ready() -> None:
                where = f" on {_api_url(config)}" if api else ""
                print(f"temporal-executor {what} running{where}", flush=True)

            await run_services(services, api=api, worker=worker, on_ready=ready)

    _serve_forever(main())
    return 0


def _serve_forever(main: Coroutine[Any, Any, None]) -> None:
    """Run a service on uvloop where it is installed (a faster event loop: less CPU for every
    wake-up between the Temporal core, the database thread and the sockets)."""
    try:
        import uvloop
    except ImportError:  # not on this platform
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _replay(config: Config, args: argparse.Namespace) -> int:
    """Exit 0 when every history replays deterministically, 1 when one does not."""

    recorded = []
    if args.history:
        path = Path(args.history)
        recorded.append(WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8")))

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
        replayer = Replayer(
            workflows=[AgentExecutionWorkflow], data_converter=pydantic_data_converter
        )
        failed = 0
        # The SDK logs each failed activation at length; our verdict line says enough.
        logging.getLogger("temporalio").setLevel(logging.CRITICAL)
        for history in await histories():
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            failure = result.replay_failure
            verdict = "ok" if failure is None else f"NOT DETERMINISTIC: {_first_line(failure)}"
            failed += result.replay_failure is not None
            print(f"{history.workflow_id}: {len(history.events)} events: {verdict}")
        return 1 if failed else 0

    return asyncio.run(main())


# --- client commands -----------------------------------------------------------------------


def _api_url(config: Config) -> str:
    host = config.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{host}:{config.server.port}"


def _client(config: Config, args: argparse.Namespace) -> httpx.Client:
    url = args.url or os.environ.get(URL_ENV) or _api_url(config)
    token = os.environ.get(TOKEN_ENV) or next(iter(sorted(config.server.api_keys())), None)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(30.0, read=None))


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise ExecutorError(
            f"cannot reach the API at {client.base_url} ({exc}); "
            "is `temporal-executor dev` running?"
        ) from None
    body: dict[str, Any] = response.json() if response.content else {}
    if response.is_error:
        error = body.get("error", {})
        raise ExecutorError(f"{response.status_code}: {error.get('message', response.text)}")
    return body


def _run(config: Config, args: argparse.Namespace) -> int:
    default = config.a2a.default_agent
    model: dict[str, Any] = default.model.model_dump(exclude_none=True) if default.model else {}
    if args.provider:
        model["provider"] = args.provider
    if args.model:
        model["model"] = args.model
    if not model.get("provider") and config.llm.providers:
        model["provider"] = config.llm.providers[0].name
    if not model.get("model"):
        raise ExecutorError("no model: pass --model (or set a2a.default_agent.model_config)")
    if args.no_stream:
        model["stream"] = False
    body: dict[str, Any] = {
        "user_message": args.prompt,
        "system_message": args.system or default.system_message,
        "model_config": model,
        "tools": [t.model_dump() for t in default.tools],
    }
    if args.tools:
        body["tools"] = json.loads(Path(args.tools).read_text(encoding="utf-8"))
    for key in ("task_id", "session_id", "max_iterations", "require_approval"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    with _client(config, args) as client:
        accepted = _call(client, "POST", "/api/v1/execute", json=body)
        task_id = accepted["task_id"]
        print(f"task {task_id} (workflow {accepted['workflow_id']})", file=sys.stderr)
        return _follow(client, task_id)


def _follow(client: httpx.Client, task_id: str) -> int:
    """Print the task's events until it ends; reconnect with Last-Event-ID if cut off."""
    printer = _Printer(client, task_id)
    last_id = 0
    for _attempt in range(20):
        try:
            for seq, type, data in _sse(client, task_id, last_id):
                last_id = seq
                code = printer.show(type, data)
                if code is not None:
                    return code
        except httpx.TransportError:
            pass  # the connection dropped: resume after the last event seen
    raise ExecutorError(f"lost the event stream of task {task_id}")


def _sse(client: httpx.Client, task_id: str, after: int) -> Iterator[tuple[int, str, Any]]:
    headers = {"Last-Event-ID": str(after)} if after else {}
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events", headers=headers) as response:
        if response.is_error:
            response.read()
            raise ExecutorError(f"{response.status_code}: {response.text}")
        seq, type, data = 0, "message", ""
        for line in response.iter_lines():
            if line.startswith("id:"):
                seq = int(line[3:].strip())
            elif line.startswith("event:"):
                type = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                yield seq, type, json.loads(data)
                type, data = "message", ""


class _Printer:
    def __init__(self, client: httpx.Client, task_id: str) -> None:
        self.client, self.task_id = client, task_id
        self.streamed = False

    def show(self, type: str, data: dict[str, Any]) -> int | None:
        out = sys.stdout
        if type == "llm.delta":
            out.write(data["text"])
            self.streamed = True
        elif type == "llm.restart":
            out.write("\n[the LLM call is being retried; its answer restarts]\n")
        elif type == "llm.message":
            if self.streamed:
                out.write("\n")
            elif data.get("content") and not data.get("tool_calls"):
                out.write(data["content"] + "\n")
            self.streamed = False
        elif type == "tool.call":
            out.write(f"-> {data['name']}({json.dumps(data['arguments'])})\n")
        elif type == "tool.result":
            flag = " [error]" if data.get("is_error") else ""
            out.write(f"<- {data['name']}{flag}: {_clip(data['content'])}\n")
        elif type == "approval.required":
            self._ask(data["tool_calls"])
        elif type == "approval.decided":
            out.write(f"[{'approved' if data['approved'] else 'rejected'}]\n")
        elif type == "task.completed":
            usage = data.get("usage", {})
            print(f"[completed: {usage.get('total_tokens', 0)} tokens]", file=sys.stderr)
            return 0
        elif type == "task.failed":
            print(f"[failed: {data.get('error', {}).get('message')}]", file=sys.stderr)
            return 1
        elif type == "task.cancelled":
            print("[cancelled]", file=sys.stderr)
            return 1
        out.flush()
        return None

    def _ask(self, calls: list[dict[str, Any]]) -> None:
        names = ", ".join(f"{c['name']}({json.dumps(c['arguments'])})" for c in calls)
        print(f"approval required for: {names}", file=sys.stderr)
        if not sys.stdin.isatty():
            print(
                f"  decide with: temporal-executor approve {self.task_id} [--reject]",
                file=sys.stderr,
            )
            return
        answer = input("approve? [y/N] ").strip().lower()
        body = {"approved": answer in ("y", "yes")}
        _call(self.client, "POST", f"/api/v1/approve/agent-execution-{self.task_id}", json=body)


def _first_line(error: BaseException) -> str:
    text = str(error)
    message = text.split("message: ", 1)[-1] if "message: " in text else text
    return _clip(message.split("\\n")[0].strip('"'), 200)


def _clip(text: str, limit: int = 300) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


def _approve(config: Config, args: argparse.Namespace) -> int:
    body = {"approved": not args.reject, "reason": args.reason}
    with _client(config, args) as client:
        _call(client, "POST", f"/api/v1/approve/agent-execution-{args.task_id}", json=body)
    print(f"{'rejected' if args.reject else 'approved'}: task {args.task_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
