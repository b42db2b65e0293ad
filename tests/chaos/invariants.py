"""What every fault scenario checks once its tasks have ended, and the row it reports.

- every task reached the terminal status the scenario expects;
- each task's event log is gap-free (seq 1 … n) and duplicate-free: one `task.started`, one
  terminal event and it is the last, each tool call id called and answered once (no answer
  without its call), one `llm.message` per iteration (1 … n, none skipped);
- the side-effect tool (`/effect` of the tool server, which honours `Idempotency-Key`) applied
  each tool call that reached it exactly once, and every delivery carried that call's key.

`lost` counts tasks that did not end as expected plus events missing from a log;
`duplicated_events` the events a log has twice; `duplicate_side_effects` the effects applied
more than once for one tool call (or applied under a key that is no call's id).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = ["OUTCOMES", "REPORT_ENV", "Outcome", "check", "effects", "report"]

REPORT_ENV = "TE_CHAOS_REPORT"
OUTCOMES: list[Outcome] = []


@dataclass
class Outcome:
    """One scenario's row; `problems` says what each non-zero count stands for."""

    scenario: str
    tasks: int = 0
    lost: int = 0
    duplicated_events: int = 0
    duplicate_side_effects: int = 0
    deliveries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated_events or self.duplicate_side_effects)


def _log_duplicates(task_id: str, events: list[dict[str, Any]]) -> tuple[int, int, list[str]]:
    """(missing, duplicated, problems) of one task's SSE log."""
    problems: list[str] = []
    ids = [e["id"] for e in events]
    missing = len(set(range(1, max(ids, default=0) + 1)) - set(ids))
    duplicated = len(ids) - len(set(ids))
    if missing or duplicated or ids != sorted(ids):
        problems.append(f"{task_id}: seqs {ids}")
    types = [e["event"] for e in events]
    once = Counter(types)
    keys: Counter[str] = Counter()
    for e in events:
        data = e["data"]
        if e["event"] == "tool.call":
            keys[f"call:{data['id']}"] += 1
        elif e["event"] == "tool.result":
            keys[f"result:{data['tool_call_id']}"] += 1
        elif e["event"] == "llm.message":
            keys[f"message:{data['iteration']}"] += 1
    # Events lost before others were numbered (no gap shows): a result without its call, an
    # iteration without its LLM message.
    called = {k.removeprefix("call:") for k in keys if k.startswith("call:")}
    answered = {k.removeprefix("result:") for k in keys if k.startswith("result:")}
    iterations = {int(k.removeprefix("message:")) for k in keys if k.startswith("message:")}
    unmatched = answered - called
    skipped = set(range(1, max(iterations, default=0) + 1)) - iterations
    if unmatched or skipped:
        missing += len(unmatched) + len(skipped)
        problems.append(f"{task_id}: results without calls {unmatched}, no message {skipped}")
    extra = sum(n - 1 for n in keys.values() if n > 1)
    extra += max(0, once["task.started"] - 1)
    terminal = [t for t in types if t in ("task.completed", "task.failed", "task.cancelled")]
    extra += max(0, len(terminal) - 1)
    if extra:
        problems.append(f"{task_id}: repeated events {[k for k, n in keys.items() if n > 1]}")
    if not terminal or types[-1] != terminal[-1]:
        missing += 1
        problems.append(f"{task_id}: the log does not end with its terminal event: {types[-3:]}")
    return missing, duplicated + extra, problems


def check(
    scenario: str,
    logs: dict[str, list[dict[str, Any]]],
    statuses: dict[str, str],
    expected: dict[str, str] | str,
    side_effects: dict[str, Any] | None = None,
    effect_tool: str = "effect",
) -> Outcome:
    """The scenario's outcome from its tasks' logs and final statuses (and the side-effect
    tool's counters, when the scenario used it)."""
    outcome = Outcome(scenario, tasks=len(statuses))
    for task_id, status in statuses.items():
        want = expected if isinstance(expected, str) else expected[task_id]
        if status != want:
            outcome.lost += 1
            log = logs.get(task_id) or [{"data": None}]
            outcome.problems.append(f"{task_id}: {status}, expected {want}: {log[-1]['data']}")
        missing, duplicated, problems = _log_duplicates(task_id, logs.get(task_id, []))
        outcome.lost += missing
        outcome.duplicated_events += duplicated
        outcome.problems += problems
    if side_effects is not None:
        calls = {
            e["data"]["id"]
            for log in logs.values()
            for e in log
            if e["event"] == "tool.call" and e["data"]["name"] == effect_tool
        }
        applied: dict[str, int] = side_effects["applied"]
        outcome.deliveries = sum(side_effects["deliveries"].values())
        for key, times in applied.items():
            if key not in calls:
                outcome.duplicate_side_effects += times
                outcome.problems.append(f"an effect applied under {key!r}, no tool call's id")
            elif times > 1:
                outcome.duplicate_side_effects += times - 1
                outcome.problems.append(f"tool call {key} applied {times} times")
    return outcome


def effects(tool_server_url: str) -> dict[str, Any]:
    """The side-effect tool's counters."""
    result: dict[str, Any] = httpx.get(tool_server_url + "/_tool/effects").json()
    return result


def report(outcome: Outcome) -> None:
    """Record the row (for the session's table, see conftest) and fail on any problem."""
    OUTCOMES.append(outcome)
    path = os.environ.get(REPORT_ENV)
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(outcome)) + "\n")
    assert outcome.clean, outcome.problems
