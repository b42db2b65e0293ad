"""The `temporal-executor` command: the service (`dev`, `serve`, `worker`, `replay`: in
`services.py`), a client of its API (`run`, `approvals`, `approve`, `answer`: in
`client.py`; `schedule`: in `schedules.py`; `steps`, `fork`, `rerun`: in `travel.py`), Worker
Versioning for operators (`deployment`: in `deployment.py`) and re-encrypting the store
(`rekey`: in `rekey.py`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import __version__
from ..build import build_id, default_build_id
from ..config import load_config
from ..errors import ConfigError, ExecutorError
from ..observability import configure_logging
from . import client, deployment, rekey, schedules, services, travel
from .client import URL_ENV
from .services import dev_defaults

__all__ = ["dev_defaults", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        return _print_version(args.config)
    if args.command is None:
        parser.error("a command is required (see --help)")
    result = _run(args)
    if argv is None and getattr(args, "exit_at_once", False):
        # A short command that used a Temporal client: the SDK's threads can abort the
        # interpreter's finalization (temporalio/sdk-python#300, "PyGILState_Release"), which
        # would turn any exit status into 134. Nothing is left to clean up: skip it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(result)
    return result


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_config(getattr(args, "config_path", None) or args.config)
        if args.state_dir:
            config.state_dir = Path(args.state_dir)
        configure_logging(config.logging.format, args.log_level)
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
    parser.add_argument(
        "--version", action="store_true", help="print the version and build id, and exit"
    )
    parser.add_argument(
        "--config", help="config file (default: $TEMPORAL_EXECUTOR_CONFIG, else built-in)"
    )
    parser.add_argument("--state-dir", help="state directory (default: $XDG_STATE_HOME/...)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    # Not `required`: `--version` alone is a whole command line (checked in `main`).
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    for name, handler, text in (
        ("dev", services.dev, "embedded Temporal dev server + worker + API, one process"),
        ("serve", services.serve, "the API only (Temporal must be running)"),
        ("worker", services.worker, "the Temporal worker only"),
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
    run.add_argument(
        "--priority", type=int, choices=range(1, 6), metavar="1-5", help="5 is the most urgent"
    )
    run.add_argument(
        "--concurrent-messages",
        choices=["reject", "enqueue", "interrupt", "rollback"],
        help="when the session's task has not ended: refuse, queue, interrupt it, or undo it",
    )
    run.add_argument("--no-stream", action="store_true", help="non-streaming LLM calls")
    run.add_argument("--url", help=f"API URL (default: ${URL_ENV}, else from config)")
    run.set_defaults(handler=client.run)

    replay = commands.add_parser(
        "replay", help="replay recorded workflow histories against this version's workflow code"
    )
    # One of the two (checked by the command: argparse cannot exclude a "*" positional).
    replay.add_argument(
        "history",
        nargs="*",
        help="history JSON files (Temporal UI / CLI export), or directories of them",
    )
    replay.add_argument("--task-id", help="fetch every run of this task from Temporal")
    replay.set_defaults(handler=services.replay, exit_at_once=True)

    load = commands.add_parser(
        "load",
        help="a bounded load run on this machine: scripted LLM and tool, dev, one-tool tasks",
    )
    load.add_argument("--tasks", type=_positive, default=1000, help="how many (default 1000)")
    load.add_argument(
        "--concurrency", type=_positive, default=100, help="how many at a time (default 100)"
    )
    load.add_argument(
        "--within", type=_positive, default=1800, help="give up after SECONDS (default 1800)"
    )
    load.set_defaults(handler=services.load)

    approve = commands.add_parser("approve", help="approve (or reject) a pending tool call")
    approve.add_argument("task_id")
    approve.add_argument("--reject", action="store_true")
    approve.add_argument("--reason")
    approve.add_argument("--arguments", metavar="JSON", help="run the call with these arguments")
    approve.add_argument(
        "--edit", action="store_true", help="edit the call's arguments in $EDITOR first"
    )
    approve.add_argument("--call", metavar="ID", help="the pending call to edit (if several)")
    approve.add_argument(
        "--remember", action="store_true", help="approve the tool for the rest of the session"
    )
    approve.add_argument("--url", help=f"API URL (default: ${URL_ENV}, else from config)")
    approve.set_defaults(handler=client.approve)

    inbox = commands.add_parser("approvals", help="list the tool calls waiting for a decision")
    inbox.add_argument("--session", help="only this session's")
    inbox.add_argument("--tool", help="only calls of this tool")
    inbox.add_argument("--limit", type=int, default=50)
    inbox.add_argument("--json", action="store_true", help="print them as JSON")
    inbox.add_argument("--url", help=f"API URL (default: ${URL_ENV}, else from config)")
    inbox.set_defaults(handler=client.approvals)

    answer = commands.add_parser("answer", help="answer the questions a task asks (ask_user)")
    answer.add_argument("task_id")
    answer.add_argument("answers", nargs="*", metavar="ANSWER", help="one per question")
    answer.add_argument(
        "--json", help='all answers as JSON, one list per question: [["a"], ["b", "c"]]'
    )
    answer.add_argument("--url", help=f"API URL (default: ${URL_ENV}, else from config)")
    answer.set_defaults(handler=client.answer)

    schedules.add_commands(commands)
    travel.add_commands(commands)
    deployment.add_commands(commands)
    rekey.add_command(commands)
    return parser


def _print_version(config_path: str | None) -> int:
    """`temporal-executor 0.2.0 (build 0.2.0-1a2b3c4d5e6f)`: the build id a config sets
    (`temporal.deployment.build_id`), else this install's; a config that does not load is
    said on stderr, and the install's build id is printed."""
    try:
        build = build_id(load_config(config_path))
    except ConfigError as exc:
        print(f"warning: {exc.message}", file=sys.stderr)
        build = default_build_id()
    print(f"temporal-executor {__version__} (build {build})")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value
