"""Record the workflow histories `tests/replay/` replays: one task per path of the workflow,
run on a fresh Temporal dev server against the test fakes, each run's history written as
`histories/<scenario>.<run>.json` (the format of the Temporal UI / CLI export).

    .venv/bin/python -m tests.replay.record

Re-record after an intended change to the workflow (one that running workflows may not
replay — then also plan how running tasks move over, e.g. a workflow version patch), and
commit the new files with the change. Everything runs on 127.0.0.1 and takes about a minute.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowExecutionStatus

from temporal_executor.devserver import DevServer
from temporal_executor.tasks import schedule_workflow_id
from temporal_executor.workflows import workflow_id
from tests.conftest import (
    FAKE_KEY_ENV,
    Stack,
    config_data,
    free_port,
    running_stack,
    weather_tool,
)
from tests.fakes.openai_fake import create_app as create_openai_app
from tests.fakes.samples import PNG
from tests.fakes.server import FakeServer
from tests.fakes.tool_server import make_tool_app

__all__ = [
    "HISTORIES",
    "RELEASES",
    "SCENARIOS",
    "Recorded",
    "main",
    "recorded_input",
    "start_released",
]

HISTORIES = Path(__file__).parent / "histories"
RELEASES = Path(__file__).parent / "releases"
MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
# Low enough that the continue-as-new scenario's task continues as new (at least once).
HISTORY_LIMIT = 100
LONG_ITERATIONS = 60
# A tool allowed one call at once (`tools.limits`), for the tool_capacity scenario.
LIMITED_TOOL = "slow_lookup"


@dataclass
class Recorded:
    """What a scenario that is not one task of its own name drove: the task to wait for, and
    the workflows whose runs are its histories (in the order they started)."""

    task_id: str
    workflow_ids: list[str]


Scenario = Callable[[Stack, "Fakes"], Awaitable[Recorded | None]]


class Fakes:
    """The LLM wire fake and the tool server a recording runs against."""

    def __init__(self, openai: FakeServer, tools: FakeServer) -> None:
        self.openai = openai
        self.tools = tools

    async def enqueue(self, *entries: dict[str, Any]) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.post(self.openai.base_url + "/_fake/enqueue", json=entries)
            response.raise_for_status()

    async def tool_calls(self) -> list[Any]:
        """The calls the tool server received."""
        async with httpx.AsyncClient() as http:
            calls: list[Any] = (await http.get(self.tools.base_url + "/_tool/calls")).json()
            return calls


async def wait_status(stack: Stack, task_id: str, status: str) -> None:
    """Until the task is in `status` (it may not exist yet: a schedule's run starts it)."""
    for _ in range(1200):
        response = await stack.http.get(f"/api/v1/tasks/{task_id}")
        if response.status_code == 200 and response.json()["status"] == status:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{task_id} never became {status}")


async def tools(stack: Stack, fakes: Fakes) -> None:
    """Two HTTP tool calls in one turn, streamed LLM calls."""
    await stack.execute(
        task_id="tools",
        user_message="weather in two places [two tools]",
        model_config=MODEL,
        tools=[weather_tool(fakes.tools), weather_tool(fakes.tools, name="other_weather")],
    )


async def approval(stack: Stack, fakes: Fakes) -> None:
    await _decided(stack, fakes, "approval", {"approved": True})


async def rejection(stack: Stack, fakes: Fakes) -> None:
    await _decided(stack, fakes, "rejection", {"approved": False, "reason": "not today"})


async def _decided(
    stack: Stack,
    fakes: Fakes,
    task_id: str,
    decision: dict[str, Any],
    model: dict[str, Any] = MODEL,
) -> None:
    await stack.execute(
        task_id=task_id,
        user_message="look it up",
        model_config=model,
        tools=[weather_tool(fakes.tools)],
        require_approval=True,
    )
    await wait_status(stack, task_id, "awaiting_approval")
    response = await stack.http.post(f"/api/v1/approve/{workflow_id(task_id)}", json=decision)
    response.raise_for_status()


async def edited_arguments(stack: Stack, fakes: Fakes) -> None:
    """Approved with the arguments a person edited (and the tool remembered for the session)."""
    decision = {"approved": True, "arguments": {"query": "edited"}, "remember": "session"}
    await _decided(stack, fakes, "edited_arguments", decision)


async def reasoning(stack: Stack, fakes: Fakes) -> None:
    """A reasoning model on the Responses API (its turns kept by reference) with a forcing
    tool_choice (reset after the first call: a patch marker), the call approved with edited
    arguments (its reasoning then marked edited)."""
    model = {
        "provider": "openai-compatible",
        "model": "gpt-5",
        "reasoning": {"effort": "low", "summary": True},
        "tool_choice": "required",
    }
    decision = {"approved": True, "arguments": {"query": "edited"}}
    await _decided(stack, fakes, "reasoning", decision, model)


async def approval_timeout(stack: Stack, fakes: Fakes) -> None:
    """No decision within the approval timeout: the configured action (reject) is taken."""
    await stack.execute(
        task_id="approval_timeout",
        user_message="look it up",
        model_config=MODEL,
        tools=[weather_tool(fakes.tools)],
        require_approval=True,
        approval_timeout=1,
    )


async def ask_user(stack: Stack, fakes: Fakes) -> None:
    """The built-in ask_user: the task parks awaiting input, an answer resumes it."""
    questions = [{"question": "Which database?", "choices": ["PostgreSQL", "SQLite"]}]
    arguments = json.dumps({"questions": questions})
    await fakes.enqueue({"tool_calls": [{"name": "ask_user", "arguments": arguments}]})
    await stack.execute(
        task_id="ask_user",
        user_message="set up my app",
        model_config=MODEL,
        tools=[{"name": "ask_user", "type": "builtin"}],
    )
    await wait_status(stack, "ask_user", "awaiting_input")
    answer = {"answers": [["SQLite"]]}
    response = await stack.http.post("/api/v1/tasks/ask_user/answer", json=answer)
    response.raise_for_status()


async def nested_approval(stack: Stack, fakes: Fakes) -> None:
    """An agent tool (this service's own A2A agent, whose weather tool needs approval): the
    agent pauses, so does the task (its pending approval nested), a person approves here, the
    decision goes to the agent in a second round of its call."""
    request = json.dumps({"request": "weather in Oslo"})
    await fakes.enqueue({"tool_calls": [{"name": "helper", "arguments": request}]})
    helper = {
        "name": "helper",
        "type": "agent",
        "description": "Answers weather questions.",
        "config": {"url": stack.url, "isolate_sessions": True},
    }
    await stack.execute(
        task_id="nested_approval", user_message="ask the helper", model_config=MODEL, tools=[helper]
    )
    await wait_status(stack, "nested_approval", "awaiting_approval")
    response = await stack.http.post(
        f"/api/v1/approve/{workflow_id('nested_approval')}", json={"approved": True}
    )
    response.raise_for_status()


async def continue_as_new(stack: Stack, fakes: Fakes) -> None:
    """Enough tool iterations (non-streamed) for the run to continue as new."""
    call = {"name": "get_weather", "arguments": '{"query": "again"}'}
    await fakes.enqueue(*[{"tool_calls": [call]}] * LONG_ITERATIONS, {"content": "all done"})
    await stack.execute(
        task_id="continue_as_new",
        user_message="do many steps",
        model_config={**MODEL, "stream": False},
        tools=[weather_tool(fakes.tools)],
    )


async def failure(stack: Stack, fakes: Fakes) -> None:
    """The LLM answers 500 to every attempt (local, then the regular activity's three)."""
    await fakes.enqueue(*[{"status": 500}] * 4)
    await stack.execute(task_id="failure", user_message="hello", model_config=MODEL)


async def fallback(stack: Stack, fakes: Fakes) -> None:
    """The model is down (500 to every attempt): the call is made again with the fallback."""
    await fakes.enqueue(*[{"status": 500}] * 4)
    fallbacks = [{"provider": "openai", "model": "gpt-4o"}]
    await stack.execute(
        task_id="fallback",
        user_message="hello [no tools]",
        model_config={**MODEL, "fallbacks": fallbacks},
        tools=[weather_tool(fakes.tools)],
    )


async def budget(stack: Stack, fakes: Fakes) -> None:
    """Past `max_total_tokens` after the first LLM call: the task fails, transcript kept."""
    await stack.execute(
        task_id="budget",
        user_message="look it up",
        model_config=MODEL,
        tools=[weather_tool(fakes.tools)],
        max_total_tokens=5,
    )


async def max_iterations(stack: Stack, fakes: Fakes) -> None:
    """The model keeps calling tools past `max_iterations`."""
    await stack.execute(
        task_id="max_iterations",
        user_message="[loop] forever",
        model_config=MODEL,
        tools=[weather_tool(fakes.tools)],
        max_iterations=2,
    )


async def time_limit(stack: Stack, fakes: Fakes) -> None:
    """The task's time limit passes during a slow tool call (which is cancelled)."""
    await stack.execute(
        task_id="time_limit",
        user_message="take your time",
        model_config=MODEL,
        tools=[weather_tool(fakes.tools, path="/slow?delay=30")],
        timeout=2,
    )


async def session(stack: Stack, fakes: Fakes) -> None:
    """A second turn of a session (its first turn is the `tools` scenario's task)."""
    await stack.execute(
        task_id="session",
        session_id=(await stack.task("tools"))["session_id"],
        user_message="and tomorrow? [no tools]",
        model_config=MODEL,
    )


async def compaction(stack: Stack, fakes: Fakes) -> None:
    """A turn of a long session with compaction on: its first LLM call finds a compaction due
    (the `compact_context` activity summarizes the older turns), then calls with the summary."""
    await stack.execute(
        task_id="compaction",
        session_id=(await stack.task("tools"))["session_id"],
        user_message="and the day after? [no tools]",
        model_config=MODEL,
        compaction={
            "token_threshold": 40,
            "overlap": 1,
            "model": {**MODEL, "stream": False},
            "prompt_template": "[summarize] {conversation_history}",
        },
    )


async def cost_budget(stack: Stack, fakes: Fakes) -> None:
    """Past `max_cost` after the first LLM call (the price table's): the task fails."""
    await stack.execute(
        task_id="cost_budget",
        user_message="look it up",
        model_config=MODEL,
        tools=[weather_tool(fakes.tools)],
        max_cost=1e-9,
    )


async def rate_limited(stack: Stack, fakes: Fakes) -> None:
    """The provider answers 429 with Retry-After: the call waits for capacity (a timer) and
    is made again (the provider has `limits`, so its 429s are shared)."""
    await fakes.enqueue({"status": 429, "headers": {"retry-after": "1"}})
    await stack.execute(task_id="rate_limited", user_message="hello", model_config=MODEL)


async def tool_capacity(stack: Stack, fakes: Fakes) -> None:
    """A tool allowed one call at once is busy (another task's call): the task's call waits
    for capacity, then runs."""
    slow = weather_tool(fakes.tools, name=LIMITED_TOOL, path="/slow?delay=2")
    before = len(await fakes.tool_calls())
    await stack.execute(task_id="tool_capacity_holder", user_message="go", tools=[slow],
                        model_config=MODEL)  # fmt: skip
    for _ in range(200):
        if len(await fakes.tool_calls()) > before:  # the holder's call is in flight
            break
        await asyncio.sleep(0.05)
    await stack.execute(task_id="tool_capacity", user_message="go", tools=[slow],
                        model_config=MODEL)  # fmt: skip


async def cancel(stack: Stack, fakes: Fakes) -> None:
    """Cancelled while parked awaiting approval."""
    await stack.execute(
        task_id="cancel",
        user_message="look it up",
        model_config=MODEL,
        tools=[weather_tool(fakes.tools)],
        require_approval=True,
    )
    await wait_status(stack, "cancel", "awaiting_approval")
    (await stack.http.post("/api/v1/tasks/cancel/cancel")).raise_for_status()


async def fork(stack: Stack, fakes: Fakes) -> None:
    """A fork of the `tools` scenario's task at its step 3 (the second of its turn's two tool
    calls) with a user message: the fork writes its seed, makes that call again, then goes
    on with the LLM."""
    body = {"at_step": 3, "task_id": "fork", "user_message": "and in Rome? [no tools]"}
    (await stack.http.post("/api/v1/tasks/tools/fork", json=body)).raise_for_status()


def recorded_input(release: str, scenario: str, **changes: Any) -> dict[str, Any]:
    """The workflow input `release` wrote for `scenario` (its first run's), with `changes`."""
    path = RELEASES / release / f"{scenario}.0.json"
    started = json.loads(path.read_text(encoding="utf-8"))["events"][0]
    payload = started["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    data: dict[str, Any] = json.loads(base64.b64decode(payload["data"]))
    return {**data, **changes}


async def start_released(stack: Stack, data: dict[str, Any]) -> None:
    """Start a task with the workflow input a release wrote, as that release did (its JSON)."""
    await stack.services.client.start_workflow(
        "AgentExecutionWorkflow",
        data,
        id=workflow_id(data["task_id"]),
        task_queue=stack.config.temporal.task_queue,
    )


async def legacy_254ae33(stack: Stack, fakes: Fakes) -> None:
    """A task 0.1.0+254ae33 started (its input): that release's loop parks it, a person
    approves, and it continues as new into this release's loop before its second LLM call."""
    task_id = "legacy_254ae33"
    data = recorded_input("0.1.0+254ae33", "approval", task_id=task_id, session_id=task_id)
    data["tools"] = [weather_tool(fakes.tools)]
    data["policies"] = {**data["policies"], "history_limit": 15}
    await start_released(stack, data)
    await wait_status(stack, task_id, "awaiting_approval")
    response = await stack.http.post(
        f"/api/v1/approve/{workflow_id(task_id)}", json={"approved": True}
    )
    response.raise_for_status()


async def scheduled(stack: Stack, fakes: Fakes) -> Recorded:
    """A schedule's run starts its task (a session of its own); the same time backfilled
    again starts nothing; a run whose fixed session is busy (a task parked in it) fails."""
    http = stack.http
    template = {"user_message": "good morning [no tools]", "model_config": MODEL}
    hourly: dict[str, Any] = {"template": template, "interval": "1h", "paused": True}
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
    for schedule_id, session in (("scheduled", None), ("scheduled-busy", "busy")):
        made = await http.post(
            "/api/v1/schedules", json={**hourly, "schedule_id": schedule_id, "session_id": session}
        )
        made.raise_for_status()
    backfilled = await http.post("/api/v1/schedules/scheduled/backfill", json=window)
    backfilled.raise_for_status()
    (time,) = backfilled.json()["times"]
    stamp = datetime.fromisoformat(time).strftime("%Y-%m-%dT%H:%M:%SZ")
    task_id = f"scheduled-{stamp}"
    await wait_status(stack, task_id, "completed")
    await _runs_done(stack, "scheduled", 1)
    (await http.post("/api/v1/schedules/scheduled/backfill", json=window)).raise_for_status()
    await _runs_done(stack, "scheduled", 2)
    parked = {"task_id": "busy-holder", "session_id": "busy", "require_approval": True}
    await stack.execute(
        **parked, user_message="look it up", model_config=MODEL, tools=[weather_tool(fakes.tools)]
    )
    await wait_status(stack, "busy-holder", "awaiting_approval")
    (await http.post("/api/v1/schedules/scheduled-busy/backfill", json=window)).raise_for_status()
    await _runs_done(stack, "scheduled-busy", 1)
    (await http.post("/api/v1/tasks/busy-holder/cancel")).raise_for_status()
    runs = [f"{schedule_workflow_id(s)}-{stamp}" for s in ("scheduled", "scheduled-busy")]
    return Recorded(task_id, [runs[0], workflow_id(task_id), runs[1]])


async def _runs_done(stack: Stack, schedule_id: str, count: int) -> None:
    """Until the schedule has started `count` runs and none of them runs any more."""
    handle = stack.services.client.get_schedule_handle(schedule_workflow_id(schedule_id))
    for _ in range(1200):
        info = (await handle.describe()).info
        if info.num_actions >= count and not info.running_actions:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"schedule {schedule_id} never made {count} runs")


async def files(stack: Stack, fakes: Fakes) -> None:
    """A user message with an image and a PDF; a tool whose answer is an image (an artifact,
    sent to the model with its result); a final answer under a JSON schema (a data artifact)."""
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    format = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    await fakes.enqueue(
        {"tool_calls": [{"name": "chart", "arguments": {"query": "q3"}}]},
        {"content": '{"ok":true}'},
    )
    await stack.execute(
        task_id="files",
        user_message=[
            {"type": "text", "text": "what do these show?"},
            {"type": "image", "data": base64.b64encode(PNG).decode(), "media_type": "image/png"},
            {"type": "file", "url": fakes.tools.base_url + "/files/report.pdf"},
        ],
        model_config={**MODEL, "response_format": format},
        tools=[
            {
                "name": "chart",
                "type": "http",
                "config": {"endpoint": fakes.tools.base_url + "/files/chart.png", "method": "GET"},
            }
        ],
    )


async def enqueue_ahead(stack: Stack, fakes: Fakes) -> None:
    """Parked awaiting approval while two messages queue behind it (the second is cancelled
    while it waits); approved, it tells the first of them its turn has come."""
    body = {"session_id": "queue", "model_config": MODEL}
    await stack.execute(
        task_id="enqueue_ahead",
        user_message="look it up",
        tools=[weather_tool(fakes.tools)],
        require_approval=True,
        **body,
    )
    await wait_status(stack, "enqueue_ahead", "awaiting_approval")
    for task_id in ("enqueued", "queue_cancelled"):
        queued = {"concurrent_messages": "enqueue"}
        await stack.execute(task_id=task_id, user_message="next [no tools]", **queued, **body)
    await wait_status(stack, "queue_cancelled", "queued")
    (await stack.http.post("/api/v1/tasks/queue_cancelled/cancel")).raise_for_status()
    await wait_status(stack, "queue_cancelled", "cancelled")
    decision = {"approved": True}
    response = await stack.http.post(
        f"/api/v1/approve/{workflow_id('enqueue_ahead')}", json=decision
    )
    response.raise_for_status()


async def queued(stack: Stack, fakes: Fakes) -> None:
    """Driven by `enqueue_ahead`: queued, then it runs (or, cancelled, never does)."""


async def interrupted(stack: Stack, fakes: Fakes) -> None:
    """Parked awaiting approval when a new message interrupts it (`interrupter`)."""
    await _stopped(stack, fakes, "interrupted", "interrupter", "interrupt")


async def rolled_back(stack: Stack, fakes: Fakes) -> None:
    """Parked awaiting approval when a new message rolls its turn back (and cancels it)."""
    await _stopped(stack, fakes, "rolled_back", "rollback_follower", "rollback")


async def _stopped(stack: Stack, fakes: Fakes, task_id: str, by: str, how: str) -> None:
    body = {"session_id": f"{task_id}-session", "model_config": MODEL}
    await stack.execute(
        task_id=task_id,
        user_message="look it up",
        tools=[weather_tool(fakes.tools)],
        require_approval=True,
        **body,
    )
    await wait_status(stack, task_id, "awaiting_approval")
    await stack.execute(
        task_id=by, user_message="something else [no tools]", concurrent_messages=how, **body
    )


# scenario -> (what drives it, the status its task ends in)
SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "tools": (tools, "completed"),
    "approval": (approval, "completed"),
    "rejection": (rejection, "completed"),
    "edited_arguments": (edited_arguments, "completed"),
    "reasoning": (reasoning, "completed"),
    "approval_timeout": (approval_timeout, "completed"),
    "ask_user": (ask_user, "completed"),
    "nested_approval": (nested_approval, "completed"),
    "continue_as_new": (continue_as_new, "completed"),
    "failure": (failure, "failed"),
    "fallback": (fallback, "completed"),
    "budget": (budget, "failed"),
    "max_iterations": (max_iterations, "failed"),
    "time_limit": (time_limit, "failed"),
    "session": (session, "completed"),
    "fork": (fork, "completed"),
    "compaction": (compaction, "completed"),
    "cost_budget": (cost_budget, "failed"),
    "cancel": (cancel, "cancelled"),
    "legacy_254ae33": (legacy_254ae33, "completed"),
    "rate_limited": (rate_limited, "completed"),
    "tool_capacity": (tool_capacity, "completed"),
    "scheduled": (scheduled, "completed"),
    "files": (files, "completed"),
    "enqueue_ahead": (enqueue_ahead, "completed"),
    "enqueued": (queued, "completed"),
    "queue_cancelled": (queued, "cancelled"),
    "interrupted": (interrupted, "cancelled"),
    "interrupter": (queued, "completed"),
    "rolled_back": (rolled_back, "cancelled"),
}


async def record(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="te-record-") as scratch:
        work = Path(scratch)
        server = DevServer(f"127.0.0.1:{free_port()}", free_port(), work / "temporal")
        with (
            FakeServer(create_openai_app(), path="/v1") as openai,
            FakeServer(make_tool_app()) as tools_server,
        ):
            async with server.running():
                data = config_data(f"127.0.0.1:{server.port}", openai.url, work)
                data["executor"]["history_limit"] = HISTORY_LIMIT
                data["executor"]["max_iterations"] = LONG_ITERATIONS + 5
                data["llm"]["providers"][0]["limits"] = {}  # shares 429s (rate_limited)
                data["tools"]["limits"] = {"tools": {LIMITED_TOOL: {"concurrency": 1}}}
                data["llm"]["prices"] = {"openai/*": {"input": 0.15, "output": 0.6}}
                # The Responses API on the same fake, for the reasoning scenario.
                responses = {"base_url": openai.url, "api": "responses"}
                data["llm"]["providers"].append(
                    {"name": "openai-compatible", "api_key_env": FAKE_KEY_ENV, "config": responses}
                )
                # The agent the nested_approval scenario's task calls: this service's own.
                data["a2a"] = {
                    "default_agent": {
                        "model_config": MODEL,
                        "tools": [weather_tool(tools_server)],
                        "require_approval": True,
                    }
                }
                fakes = Fakes(openai, tools_server)
                async with running_stack(data) as stack:
                    for name, (drive, status) in SCENARIOS.items():
                        recorded = await drive(stack, fakes)
                        task_id = recorded.task_id if recorded else name
                        await stack.events(task_id)  # to its terminal event
                        ended = (await stack.task(task_id))["status"]
                        if ended != status:
                            raise RuntimeError(f"{name} ended {ended}, not {status}")
                        workflows = recorded.workflow_ids if recorded else [workflow_id(name)]
                        await _write_runs(stack, name, workflows, out)
                        print(f"recorded {name}", flush=True)


async def _write_runs(stack: Stack, name: str, workflows: list[str], out: Path) -> None:
    """Every run of `workflows`, in turn (each one's in the order they started), as
    `<name>.0.json`, `<name>.1.json`, …"""
    client = stack.services.client
    index = 0
    for workflow in workflows:
        latest = client.get_workflow_handle(workflow)
        for _ in range(600):  # the terminal event is written just before the workflow closes
            if (await latest.describe()).status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.05)
        # Listing is eventually consistent: until it shows the latest run.
        last = (await latest.describe()).run_id
        query = f"WorkflowId = '{workflow}'"
        for _ in range(200):
            runs = [run async for run in client.list_workflows(query)]
            if any(run.run_id == last for run in runs):
                break
            await asyncio.sleep(0.05)
        runs.sort(key=lambda run: run.start_time)
        for run in runs:
            history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
            text = json.dumps(json.loads(history.to_json()), indent=1)
            (out / f"{name}.{index}.json").write_text(text + "\n", encoding="utf-8")
            index += 1


def main(argv: list[str] | None = None) -> int:
    """Record into `histories/`, or into the directory given as the only argument."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else HISTORIES
    fresh = target.with_name(target.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    asyncio.run(record(fresh))
    shutil.rmtree(target, ignore_errors=True)
    fresh.rename(target)
    print(f"wrote {len(list(target.iterdir()))} histories to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
