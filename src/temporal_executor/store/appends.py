"""The append rules of a task's event log, written once here (`plan_append`, a pure
function): a backend reads what they need (`LogState`) and inserts what they decide, in one
transaction holding the task's append lock (`EventLog._append`):
- an append is idempotent on `(task_id, key)`: a retried activity that appends the same key
  again gets the event that is already there, so events are never duplicated. One exception:
  an event the workflow keyed (`wf:N`) that comes again with other data replaces the data
  under its seq. That happens only when a workflow task whose `record` had run was thrown
  away by Temporal (its history never took it: e.g. a signal and an update racing) and the
  workflow, run again from history, did something else at that step: the log then says what
  the workflow really did;
- each new event gets the task's next `seq` (1, 2, 3 … with no gaps). The key comes from
  workflow state (or, for token deltas, from the LLM call's key, its attempt and the delta's
  index), so the order of the log follows the workflow;
- an append that names a `stream` and `attempt` is dropped (None) when that stream already
  has events of a later attempt: a stale activity attempt that is still running after
  Temporal gave up on it cannot interleave its half answer with the retry's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..tasks import Event

__all__ = [
    "WORKFLOW_KEY_PREFIX",
    "AppendPlan",
    "LogState",
    "NewEvent",
    "Row",
    "asked",
    "encode_data",
    "plan_append",
]


def encode_data(data: dict[str, Any]) -> str:
    """An event's data as every backend keeps it: compact JSON, UTF-8 as is."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class NewEvent:
    """An event to append: `key` makes the append idempotent; `stream` / `attempt` mark a
    token delta of one attempt of one LLM call."""

    key: str
    type: str
    data: dict[str, Any]
    stream: str | None = None
    attempt: int = 0


@dataclass
class LogState:
    """What the append rules need to know of a task's log, read inside the append's
    transaction: the events already under the keys asked for, the last seq, and the latest
    attempt of each stream asked for."""

    existing: dict[str, Event]
    last_seq: int
    attempts: dict[str, int]


Row = tuple[Event, NewEvent, str]  # a new event, what was asked for, its encoded data


WORKFLOW_KEY_PREFIX = "wf:"  # the keys of the events the workflow itself numbers


@dataclass
class AppendPlan:
    """What an append does: for each event asked for, the event the log has under its key
    afterwards (None: dropped as a stale attempt's), the rows to insert for that, and the
    workflow-keyed events whose data to replace (key, event, encoded data)."""

    results: list[Event | None]
    rows: list[Row]
    replaced: list[tuple[str, Event, str]] = field(default_factory=list)


def plan_append(task_id: str, log: LogState, new: Sequence[NewEvent]) -> AppendPlan:
    """The append rules (module docstring), decided on what the log holds."""
    found = dict(log.existing)
    plan = AppendPlan([], [])
    seq = log.last_seq
    for item in new:
        if item.key in found:
            kept = found[item.key]
            if item.key.startswith(WORKFLOW_KEY_PREFIX) and item.type == kept.type:
                data = encode_data(item.data)
                if json.loads(data) != kept.data:
                    kept = kept.model_copy(update={"data": json.loads(data)})
                    found[item.key] = kept
                    plan.replaced.append((item.key, kept, data))
            plan.results.append(kept)
            continue
        if item.stream is not None and log.attempts.get(item.stream, -1) > item.attempt:
            plan.results.append(None)
            continue
        seq += 1
        data = encode_data(item.data)
        event = Event(
            task_id=task_id, seq=seq, type=item.type, data=json.loads(data), time=time.time()
        )
        found[item.key] = event
        plan.rows.append((event, item, data))
        plan.results.append(event)
    return plan


def asked(new: Sequence[NewEvent]) -> tuple[list[str], list[str]]:
    """The keys and the streams an append asks about."""
    return [item.key for item in new], sorted({item.stream for item in new if item.stream})
