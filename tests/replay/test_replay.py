"""Recorded histories replay against this version's workflow code, so a change that would
break running workflows fails here:

- `histories/`: this version's, one per path of the workflow (`python -m tests.replay.record`
  writes them; re-record after an intended workflow change);
- `releases/<version>/`: each release's, kept as it recorded them: tasks a release started
  may still be running when a later one takes over. A change that does not replay one of
  them fails here until it is gated (`workflow.patched`, or the input's version). A release's
  directory goes only when the CHANGELOG says its tasks are no longer taken over.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from temporal_executor.cli.services import workflow_history
from temporal_executor.workflows import WORKFLOWS
from tests.replay.record import HISTORIES, SCENARIOS
from tests.replay.record import RELEASES as RELEASES_DIR

FILES = sorted(HISTORIES.glob("*.json"))
RELEASES = sorted(RELEASES_DIR.glob("*/*.json"))
CLOSED = {
    "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
}
# A schedule's run (`ScheduledRunWorkflow`): its histories, which start its task.
SCHEDULED = "scheduled"


def replayer() -> Replayer:
    return Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def history(data: dict[str, Any], name: str) -> WorkflowHistory:
    return workflow_history(json.dumps(data), name)


def test_every_path_is_recorded() -> None:
    """One history per scenario (continue-as-new: every run), each run through to its close."""
    runs: dict[str, int] = {}
    for path in FILES:
        scenario = path.stem.split(".")[0]
        runs[scenario] = runs.get(scenario, 0) + 1
        events = load(path)["events"]
        assert events[-1]["eventType"] in CLOSED, path.name
    assert set(runs) == set(SCENARIOS)
    assert runs["continue_as_new"] >= 2
    # The run that started its task, the time run again, that task, a run in a busy session.
    firsts = [load(HISTORIES / f"{SCHEDULED}.{i}.json")["events"] for i in range(4)]
    kinds = [
        e[0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"] for e in firsts
    ]
    assert kinds == [
        "ScheduledRunWorkflow",
        "ScheduledRunWorkflow",
        "AgentExecutionWorkflow",
        "ScheduledRunWorkflow",
    ]
    assert [firsts[i][-1]["eventType"] for i in (1, 3)] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED",
    ]


def _name(path: Path) -> str:
    return path.stem if path.parent == HISTORIES else f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", FILES + RELEASES, ids=_name)
async def test_history_replays(path: Path) -> None:
    await replayer().replay_workflow(history(load(path), path.stem))


async def test_a_changed_workflow_fails_the_replay() -> None:
    """The check can fail: a history whose first step is another activity than the code's
    first step (as after renaming or reordering steps) is reported as not deterministic."""
    data = load(HISTORIES / "tools.0.json")
    marker = next(e for e in data["events"] if "markerRecordedEventAttributes" in e)
    payload = marker["markerRecordedEventAttributes"]["details"]["data"]["payloads"][0]
    details = json.loads(base64.b64decode(payload["data"]))
    details["activity_type"] = "some_other_step"
    payload["data"] = base64.b64encode(json.dumps(details).encode()).decode()
    result = await replayer().replay_workflow(
        history(data, "changed"), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure
    assert "some_other_step" in str(result.replay_failure)


def test_replay_command_replays_a_directory() -> None:
    """`temporal-executor replay DIR` replays every history in it (exit 0), as CI could."""
    done = subprocess.run(
        [sys.executable, "-m", "temporal_executor", "replay", str(HISTORIES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": ok") == len(FILES), done.stdout
