"""The tasks an upgrade run starts on the previous release and finishes on this one, and what
is checked of them at the end.

Started on the old release (`park`, then `cut`):
- `approval`: a side-effect tool call parked awaiting approval;
- `ask_user`: parked awaiting an answer (the fake is told to call the built-in `ask_user`);
- `turn1`: a session's first turn, finished (`turn2`, its next turn, is sent after);
- `chain`: a continue-as-new chain (`history_limit` 100): CHAIN_STEPS side-effect calls, then
  a call of the `gate` tool that needs approval, then CHAIN_STEPS more, then an answer; it is
  parked at the gate after at least one continue-as-new, and continues as new again after;
- `tool_call`: a side-effect call of TOOL_DELAY seconds in flight when the old one stops;
- `stream`: an LLM answer streaming (STREAM_WORDS words, CHUNK_DELAY apart) when it stops.

Finished on the new one (`finish`): both approvals granted, the question answered, the next
turn sent; the cut tool call and stream are made again by the new worker.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
from temporalio.client import Client

from temporal_executor.workflows import workflow_id
from tests.chaos.invariants import check, effects
from tests.chaos.scenario import effect_tool, finish, http_tool, submit, task_ids
from tests.chaos.test_temporal_faults import wait_status
from tests.conftest import read_sse
from tests.fakes.rules import FakeControl
from tests.fakes.server import FakeServer

__all__ = ["CHAIN_MODEL", "UpgradeTasks"]

NAMES = ("approval", "ask_user", "turn1", "turn2", "chain", "tool_call", "stream")
CHAIN_MODEL = {"provider": "openai-compatible", "model": "gpt-4o-mini", "stream": False}
# ~2 history events per iteration: with `history_limit` 100 a run holds ~50 iterations.
CHAIN_STEPS = 60
TOOL_DELAY = 60  # seconds: past any stop (a retry gets the kept answer at once)
STREAM_WORDS = 250
CHUNK_DELAY = 0.2  # a 50 s stream, past any stop
QUESTIONS = [{"question": "Which database?", "choices": ["PostgreSQL", "SQLite"]}]


class UpgradeTasks:
    """One upgrade run's tasks (`ids`: name → task id), driven over an API's `http`."""

    def __init__(self, openai: FakeServer, chain: FakeServer, tools: FakeServer) -> None:
        self.openai, self.chain_fake, self.tools = openai, chain, tools
        self.ids = dict(zip(NAMES, task_ids("upgrade", len(NAMES)), strict=True))
        self.run = self.ids["approval"].split("-")[1]
        self.session_id = ""
        self.chain_runs_before = 0

    # --- on the old release --------------------------------------------------------------

    async def park(self, http: httpx.AsyncClient, temporal: Client) -> None:
        """The tasks that wait for people (and the finished first turn)."""
        ids = self.ids
        ask = {"name": "ask_user", "arguments": {"questions": QUESTIONS}, "id": f"ask-{self.run}"}
        # The canned reply is consumed by the next LLM call: no other task may run before.
        FakeControl(self.openai.base_url).enqueue({"tool_calls": [ask]})
        await submit(http, ids["ask_user"], tools=[{"name": "ask_user", "type": "builtin"}])
        await wait_status(http, ids["ask_user"], "awaiting_input")

        tool = effect_tool(self.tools)
        await submit(http, ids["approval"], tools=[tool], require_approval=True)
        await submit(http, ids["turn1"], user_message="first turn")
        FakeControl(self.chain_fake.base_url).enqueue(*self._chain_replies())
        gate = http_tool(self.tools, "gate", "/weather")
        body = {"model_config": CHAIN_MODEL, "require_approval": ["gate"]}
        await submit(http, ids["chain"], tools=[tool, gate], **body)
        await wait_status(http, ids["approval"], "awaiting_approval")
        self.session_id = (await wait_status(http, ids["turn1"], "completed"))["session_id"]
        await wait_status(http, ids["chain"], "awaiting_approval")
        self.chain_runs_before = await runs(temporal, ids["chain"])
        assert self.chain_runs_before >= 2, "the chain did not continue as new before its gate"

    async def cut(self, http: httpx.AsyncClient) -> None:
        """The tasks that the stop will cut: a tool call in flight, an LLM stream."""
        await submit(http, self.ids["tool_call"], tools=[effect_tool(self.tools, TOOL_DELAY)])
        await self._wait_tool_call(f"task {self.ids['tool_call']}")
        FakeControl(self.openai.base_url).configure(chunk_delay=CHUNK_DELAY)
        words = " ".join(f"word{i}" for i in range(STREAM_WORDS))
        await submit(http, self.ids["stream"], user_message=words)
        await asyncio.wait_for(read_sse(http, self.ids["stream"], until="llm.delta"), 60)

    def stopped(self) -> None:
        """The old release is gone: the next stream need not be slow."""
        FakeControl(self.openai.base_url).configure(chunk_delay=0)

    # --- on the new release --------------------------------------------------------------

    async def finish(self, http: httpx.AsyncClient, temporal: Client) -> None:
        """Decide, answer and continue what waits; then check every task."""
        ids = self.ids
        for name in ("approval", "chain"):
            url = f"/api/v1/approve/{workflow_id(ids[name])}"
            response = await http.post(url, json={"approved": True})
            assert response.status_code == 200, f"{name}: {response.status_code} {response.text}"
        url = f"/api/v1/tasks/{ids['ask_user']}/answer"
        response = await http.post(url, json={"answers": [["SQLite"]]})
        assert response.status_code == 200, f"ask_user: {response.status_code} {response.text}"
        await submit(http, ids["turn2"], session_id=self.session_id, user_message="second turn")
        logs, statuses = await finish(http, list(ids.values()), within=150)
        self._check(logs, statuses, await runs(temporal, ids["chain"]))
        # A task the old release ran forks on the new one (what it was started with is read
        # from its workflow's history: the old release kept no copy).
        body = {"at_step": 1, "user_message": "forked turn"}
        response = await http.post(f"/api/v1/tasks/{ids['turn1']}/fork", json=body)
        assert response.status_code == 202, f"fork: {response.status_code} {response.text}"
        forked = await wait_status(http, response.json()["task_id"], "completed")
        assert forked["result"]["content"] == "Echo: forked turn", forked

    def _check(
        self, logs: dict[str, list[dict[str, Any]]], statuses: dict[str, str], chain_runs: int
    ) -> None:
        counters = effects(self.tools.url)
        outcome = check("upgrade", logs, statuses, "completed", counters)
        assert outcome.clean, outcome.problems
        # Every side-effect call applied once (`check` counts those applied twice or more).
        called = [e["data"]["id"] for log in logs.values() for e in log
                  if e["event"] == "tool.call" and e["data"]["name"] == "effect"]  # fmt: skip
        assert {counters["applied"].get(c) for c in called} == {1}, (called, counters)
        assert len(called) == 2 + 2 * CHAIN_STEPS, called

        answers = {name: logs[task][-1]["data"]["result"]["content"]
                   for name, task in self.ids.items()}  # fmt: skip
        answered = json.dumps([{"question": QUESTIONS[0]["question"], "answer": ["SQLite"]}])
        assert answers["ask_user"] == f"Tool results: ask_user={answered}"
        for name in ("approval", "tool_call"):
            assert answers[name].startswith("Tool results: effect={"), answers
        assert answers["chain"] == "chain done"
        assert answers["turn1"] == "Echo: first turn"
        assert answers["turn2"] == "Echo: second turn"
        words = " ".join(f"word{i}" for i in range(STREAM_WORDS))
        assert answers["stream"] == f"Echo: {words}"

        # The stop did cut what it was meant to: the tool call was delivered again (with the
        # same key, applied once: above), the stream started over.
        cut_call = next(e["data"]["id"] for e in logs[self.ids["tool_call"]]
                        if e["event"] == "tool.call")  # fmt: skip
        assert counters["deliveries"][cut_call] >= 2, counters["deliveries"]
        kinds = Counter(e["event"] for e in logs[self.ids["stream"]])
        assert kinds["llm.restart"] >= 1, kinds
        assert chain_runs > self.chain_runs_before, (self.chain_runs_before, chain_runs)
        # The next turn was sent with the first turn's conversation.
        requests = FakeControl(self.openai.base_url).requests()
        second = next(r for r in requests if r["messages"][-1]["content"] == "second turn")
        said = [(m["role"], m.get("content")) for m in second["messages"]]
        assert said[-3:] == [
            ("user", "first turn"),
            ("assistant", "Echo: first turn"),
            ("user", "second turn"),
        ], said

    # --- helpers -------------------------------------------------------------------------

    def _chain_replies(self) -> list[dict[str, Any]]:
        def step(name: str, n: int) -> dict[str, Any]:
            call = {"name": name, "arguments": {"query": f"step {n}"}, "id": f"c{self.run}-{n}"}
            return {"tool_calls": [call]}

        steps = [step("effect", n) for n in range(CHAIN_STEPS)]
        steps.append(step("gate", CHAIN_STEPS))
        steps += [step("effect", n) for n in range(CHAIN_STEPS + 1, 2 * CHAIN_STEPS + 1)]
        return [*steps, {"content": "chain done"}]

    async def _wait_tool_call(self, query: str) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(1200):
                calls = (await http.get(self.tools.base_url + "/_tool/calls")).json()
                if any(c["arguments"].get("query") == query for c in calls):
                    return
                await asyncio.sleep(0.05)
        raise AssertionError(f"the tool call of {query!r} never came")


async def runs(temporal: Client, task_id: str) -> int:
    """How many workflow runs the task has had (each continue-as-new starts one)."""
    query = f"WorkflowId = '{workflow_id(task_id)}'"
    return len([run async for run in temporal.list_workflows(query)])
