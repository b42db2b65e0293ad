"""Context compaction end to end (real Temporal, the OpenAI wire fake, the service's REST API):
a long session with compaction on stays under its token threshold and keeps answering with a
fact from its first turn, which only the summaries carry by the end (summaries of summaries).

The suite runs 60 short turns (several compactions, a few seconds); the issue's 200 turns
(about 25 s on 2 cores): `COMPACTION_TURNS=200 pytest tests/integration/test_compaction.py`."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from temporal_executor.llm.compaction import SUMMARY_HEADING as HEADING
from tests.conftest import config_data, fake_requests, running_stack
from tests.fakes.server import FakeServer

THRESHOLD = 400  # tokens, estimated at four characters a token
TURNS = int(os.environ.get("COMPACTION_TURNS", "60"))
SUMMARIZER = {"provider": "openai", "model": "summarizer-1", "stream": False}


def _prompt_tokens(request: dict[str, Any]) -> int:
    """What the fake counts of a chat request's prompt (tests/fakes/rules.py: characters / 4)."""
    return sum(len(m.get("content") or "") for m in request["messages"]) // 4


async def test_a_long_session_stays_under_its_threshold_and_recalls_its_first_turn(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    compaction = {
        "token_threshold": THRESHOLD,
        "overlap": 2,
        "model": SUMMARIZER,
        "prompt_template": "[summarize] Summarize this conversation:\n{conversation_history}",
    }
    data = config_data(temporal, openai_fake.url, tmp_path, compaction=compaction)
    model = {"provider": "openai", "model": "gpt-4o-mini", "stream": False}
    answers: dict[int, str] = {}
    started = time.monotonic()
    async with running_stack(data) as stack:
        for turn in range(1, TURNS + 1):
            if turn == 1:
                text = "FACT code=Z-1234 is what you must remember."
            elif turn % 20 == 0 or turn == TURNS:
                text = "[recall code]"
            else:
                text = f"turn {turn}: nothing to remember here, only words that fill the turn."
            body = {"task_id": f"compact-{turn}", "session_id": "compact", "user_message": text}
            done = await stack.http.post(
                "/api/v1/execute?wait=true", json={**body, "model_config": model}
            )
            task = done.json()
            assert task["status"] == "completed", task
            answers[turn] = task["result"]["content"]
        session = (await stack.http.get("/api/v1/sessions/compact")).json()
        events = await stack.events(f"compact-{TURNS}")
    took = time.monotonic() - started

    # Every recall, the last one too, answers from the first turn.
    recalls = {turn: answer for turn, answer in answers.items() if turn % 20 == 0}
    assert recalls and all(answer == "code=Z-1234" for answer in recalls.values()), recalls
    assert answers[TURNS] == "code=Z-1234"

    requests = await fake_requests(openai_fake)
    calls = [r for r in requests if r["model"] == "gpt-4o-mini"]
    summaries = [r for r in requests if r["model"] == "summarizer-1"]
    assert len(calls) == TURNS
    largest = max(_prompt_tokens(r) for r in calls)
    assert largest < THRESHOLD, largest
    # The first turn's text is long gone from what the model gets, but not its fact.
    assert "FACT code=Z-1234 is what" not in str(calls[-1]["messages"])
    first = calls[-1]["messages"][0]
    assert first == {"role": "user", "content": f"{HEADING}Summary: FACT code=Z-1234"}
    assert TURNS // 20 <= len(summaries) <= TURNS // 5, len(summaries)

    # The transcript keeps every turn, and each summary, marked as one.
    messages = session["messages"]
    marked = [m for m in messages if m["summary"] is not None]
    assert len(marked) == len(summaries)
    assert len([m for m in messages if m["role"] == "user" and not m["summary"]]) == TURNS
    assert all(m["summary"]["model"] == "openai/summarizer-1" for m in marked)
    assert all(m["content"].startswith("Summary: FACT code=Z-1234") for m in marked)
    assert messages[0]["content"].startswith("FACT code=Z-1234")  # (raw turns stay)
    # The summarizer's tokens count in the session's usage, under its model.
    assert session["usage"]["total_tokens"] > 0 and session["usage"]["unreported"] == 0
    compacted = [t for t in session["tasks"] if "openai/summarizer-1" in t["usage_by_model"]]
    assert len(compacted) == len(summaries)
    print(f"{TURNS} turns, {len(summaries)} compactions, largest prompt {largest}: {took:.1f} s")
    assert [e["event"] for e in events][-1] == "task.completed"
