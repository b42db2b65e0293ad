"""Time travel from the command line, over the REST API: `steps` (a task's LLM and tool
calls, numbered), `fork` (a new task from one of them, with edits) and `rerun`; the new task's
events are printed live, as `run` prints them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..config import Config
from ..errors import ExecutorError
from .client import URL_ENV, api_client, call, clip, follow

__all__ = ["add_commands", "fork", "rerun", "steps"]


def add_commands(commands: Any) -> None:
    """`steps`, `fork` and `rerun` on the command's subparsers."""
    url = f"API URL (default: ${URL_ENV}, else from config)"
    listing = commands.add_parser("steps", help="list a task's LLM and tool calls, numbered")
    listing.add_argument("task_id")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    listing.add_argument("--url", help=url)
    listing.set_defaults(handler=steps)

    fork_ = commands.add_parser(
        "fork", help="a new task from a task's steps before --at-step, with edits"
    )
    fork_.add_argument("task_id")
    fork_.add_argument("--at-step", type=int, required=True, help="the first step run anew")
    fork_.add_argument("--message", help="a user turn just before the step (step 1: replaces)")
    fork_.add_argument("--provider", help="the model's provider, from the step on")
    fork_.add_argument("--model", help="the model from the step on")
    fork_.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="CALL=CONTENT",
        help="replace a recorded tool result (repeatable)",
    )
    _new_task_arguments(fork_, url)
    fork_.set_defaults(handler=fork)

    again = commands.add_parser("rerun", help="run an ended task's request again, as a new task")
    again.add_argument("task_id")
    _new_task_arguments(again, url)
    again.set_defaults(handler=rerun)


def _new_task_arguments(parser: argparse.ArgumentParser, url: str) -> None:
    parser.add_argument("--task-id", dest="new_task_id", help="the new task's id")
    parser.add_argument(
        "--session-id", dest="new_session_id", help="its session (default: a new one)"
    )
    parser.add_argument("--no-follow", action="store_true", help="do not print its events")
    parser.add_argument("--url", help=url)


def steps(config: Config, args: argparse.Namespace) -> int:
    with api_client(config, args) as client:
        found = call(client, "GET", f"/api/v1/tasks/{args.task_id}/steps")["steps"]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for step in found:
        what = step["model"] if step["kind"] == "llm" else step["tool"]
        flags = ("reused " if step["reused"] else "") + (
            "side-effects " if step["side_effects"] else ""
        )
        print(f"{step['step']:>3}  {step['kind']:<4}  {step['call']}  {what}  {flags.strip()}")
        print(f"     -> {clip(_said(step), 100)}")
    return 0


def _said(step: dict[str, Any]) -> str:
    output = step.get("output")
    if output is None:
        return "(not finished)"
    if step["kind"] == "tool":
        return str(output.get("content"))
    calls = output.get("tool_calls") or []
    if calls:
        return "calls " + ", ".join(f"{c['name']}({json.dumps(c['arguments'])})" for c in calls)
    return str(output.get("content") or "")


def fork(config: Config, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"at_step": args.at_step}
    if args.message is not None:
        body["user_message"] = args.message
    overrides = {}
    for item in args.override:
        call_id, sep, content = item.partition("=")
        if not sep:
            raise ExecutorError(f"--override {item!r}: expected CALL=CONTENT")
        overrides[call_id] = content
    if overrides:
        body["tool_result_overrides"] = overrides
    with api_client(config, args) as client:
        if args.model or args.provider:
            body["model_config"] = _model(client, args)
        return _started(client, f"/api/v1/tasks/{args.task_id}/fork", body, args)


def rerun(config: Config, args: argparse.Namespace) -> int:
    with api_client(config, args) as client:
        return _started(client, f"/api/v1/tasks/{args.task_id}/rerun", {}, args)


def _model(client: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The model given, the task's provider (or model) filling in what is left out."""
    task = call(client, "GET", f"/api/v1/tasks/{args.task_id}")
    provider, _, model = (task.get("model") or "/").partition("/")
    return {"provider": args.provider or provider, "model": args.model or model}


def _started(client: Any, path: str, body: dict[str, Any], args: argparse.Namespace) -> int:
    for key in ("task_id", "session_id"):
        if getattr(args, f"new_{key}"):
            body[key] = getattr(args, f"new_{key}")
    accepted = call(client, "POST", path, json=body)
    origin = accepted["forked_from"]
    reused = ", ".join(f"{r['step']}:{r['call']}" for r in accepted["reused"]) or "none"
    print(
        f"task {accepted['task_id']} (session {accepted['session_id']}): from task "
        f"{origin['task_id']} at step {origin['at_step']}; reuses {reused}",
        file=sys.stderr,
    )
    if args.no_follow:
        return 0
    return follow(client, accepted["task_id"])
