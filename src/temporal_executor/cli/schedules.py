"""`temporal-executor schedule create | list | get | pause | resume | backfill | delete`:
schedules over the service's REST API (`/api/v1/schedules`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..config import Config
from .client import URL_ENV, api_client, call, clip, execute_body, print_table

__all__ = ["add_commands"]

_OVERLAPS = ("skip", "buffer_one", "allow")


def add_commands(commands: Any) -> None:
    """`schedule …` under `commands` (argparse's)."""
    schedule = commands.add_parser("schedule", help="tasks on a timetable (Temporal Schedules)")
    actions = schedule.add_subparsers(dest="action", required=True, metavar="ACTION")

    create_ = actions.add_parser("create", help="make a schedule: PROMPT runs at every tick")
    create_.add_argument("prompt", help="the user message of every run")
    when = create_.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help='five fields, e.g. "0 9 * * MON-FRI"')
    when.add_argument("--interval", help="e.g. 5s, 15m, 1h")
    create_.add_argument("--time-zone", default="UTC", help="IANA zone of --cron (default UTC)")
    create_.add_argument(
        "--overlap",
        choices=_OVERLAPS,
        default="skip",
        help="a tick while the last run's task has not ended: skip it (default), run once "
        "that ends (buffer_one), or run beside it (allow)",
    )
    create_.add_argument("--session-id", help="the session every run continues (default: new)")
    create_.add_argument("--id", dest="schedule_id", help="the schedule's id (default: new)")
    create_.add_argument("--paused", action="store_true", help="make it paused")
    create_.add_argument("--provider")
    create_.add_argument("--model")
    create_.add_argument("--system", help="system message")
    create_.add_argument("--tools", metavar="FILE", help="JSON file with a list of tool specs")
    create_.add_argument("--no-stream", action="store_true", help="non-streaming LLM calls")
    create_.set_defaults(handler=create)

    listed = actions.add_parser("list", help="every schedule, with its last and next run")
    listed.set_defaults(handler=list_schedules)
    for name, handler, text in (
        ("get", get, "a schedule as made, its latest runs (their tasks) and next times"),
        ("pause", pause, "pause a schedule: no tick starts a run"),
        ("resume", resume, "resume a paused schedule"),
        ("delete", delete, "delete a schedule (its runs' tasks stay)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("schedule_id")
        action.set_defaults(handler=handler)
    backfill_ = actions.add_parser("backfill", help="run the times between START and END now")
    backfill_.add_argument("schedule_id")
    backfill_.add_argument("--start", required=True, help="e.g. 2026-12-07T08:00:00Z")
    backfill_.add_argument("--end", required=True, help="e.g. 2026-12-07T12:00:00Z")
    backfill_.set_defaults(handler=backfill)
    for action in actions.choices.values():
        action.add_argument("--json", action="store_true", help="print the answer as JSON")
        action.add_argument("--url", help=f"API URL (default: ${URL_ENV}, else from config)")


def create(config: Config, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "template": execute_body(config, args),
        "time_zone": args.time_zone,
        "overlap": args.overlap,
        "paused": args.paused,
    }
    for key in ("schedule_id", "cron", "interval", "session_id"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    with api_client(config, args) as client:
        made = call(client, "POST", "/api/v1/schedules", json=body)
    return _show(args, made, f"schedule {made['schedule_id']}")


def list_schedules(config: Config, args: argparse.Namespace) -> int:
    with api_client(config, args) as client:
        schedules = call(client, "GET", "/api/v1/schedules")["schedules"]
    if args.json:
        print(json.dumps(schedules, indent=2))
        return 0
    if not schedules:
        print("no schedule")
        return 0
    rows = [("SCHEDULE", "WHEN", "OVERLAP", "STATE", "NEXT RUN", "LAST TASK", "PROMPT")]
    rows += [
        (
            s["schedule_id"],
            _when(s),
            s["overlap"],
            _state(s),
            s["next_runs"][0] if s["next_runs"] else "-",
            s["recent_runs"][-1]["task_id"] if s["recent_runs"] else "-",
            clip(s["template"].get("user_message", ""), 60),
        )
        for s in schedules
    ]
    print_table(rows)
    return 0


def get(config: Config, args: argparse.Namespace) -> int:
    with api_client(config, args) as client:
        found = call(client, "GET", f"/api/v1/schedules/{args.schedule_id}")
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(f"schedule {found['schedule_id']}: {_when(found)}, overlap {found['overlap']}")
    print(f"  {_state(found)}; runs {found['runs']}, skipped {found['skipped']}")
    print(f"  session: {found['session_id'] or 'a new one per run'}")
    print(f"  prompt: {clip(found['template'].get('user_message', ''))}")
    for run in found["recent_runs"]:
        print(f"  ran {run['scheduled_at']}: task {run['task_id']}")
    for when in found["next_runs"][:3]:
        print(f"  next {when}")
    return 0


def pause(config: Config, args: argparse.Namespace) -> int:
    return _act(config, args, "pause", "paused")


def resume(config: Config, args: argparse.Namespace) -> int:
    return _act(config, args, "resume", "resumed")


def backfill(config: Config, args: argparse.Namespace) -> int:
    body = {"start": args.start, "end": args.end}
    with api_client(config, args) as client:
        done = call(client, "POST", f"/api/v1/schedules/{args.schedule_id}/backfill", json=body)
    return _show(args, done, f"backfilling {len(done['times'])} runs of {args.schedule_id}")


def delete(config: Config, args: argparse.Namespace) -> int:
    with api_client(config, args) as client:
        call(client, "DELETE", f"/api/v1/schedules/{args.schedule_id}")
    return _show(args, {"schedule_id": args.schedule_id, "deleted": True}, "deleted")


def _act(config: Config, args: argparse.Namespace, action: str, done: str) -> int:
    with api_client(config, args) as client:
        view = call(client, "POST", f"/api/v1/schedules/{args.schedule_id}/{action}")
    return _show(args, view, f"{done}: schedule {args.schedule_id}")


def _show(args: argparse.Namespace, answer: dict[str, Any], line: str) -> int:
    print(json.dumps(answer, indent=2) if args.json else line)
    return 0


def _when(schedule: dict[str, Any]) -> str:
    if schedule["cron"]:
        return f"cron {schedule['cron']} ({schedule['time_zone']})"
    return f"every {schedule['interval']}"


def _state(schedule: dict[str, Any]) -> str:
    if schedule["paused"] is None:
        return "gone from Temporal"
    return "paused" if schedule["paused"] else "active"
