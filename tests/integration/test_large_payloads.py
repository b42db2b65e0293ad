"""Contents over `executor.inline_bytes` stay out of workflow history; the LLM and clients
still get them whole (the LLM up to `executor.max_content_bytes`)."""

from __future__ import annotations

from pathlib import Path

import httpx
from temporalio.api.common.v1 import Payloads

from tests.conftest import config_data, running_stack, weather_tool
from tests.fakes.server import FakeServer

SIZE = 300_000


def payload_sizes(history: object) -> list[int]:
    sizes = []
    for event in history.events:  # type: ignore[attr-defined]
        for _field, value in event.ListFields():
            for _inner, payloads in value.ListFields() if hasattr(value, "ListFields") else []:
                if isinstance(payloads, Payloads):
                    sizes += [len(p.data) for p in payloads.payloads]
    return sizes


async def test_big_tool_result_is_referenced_not_inlined(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["executor"]["max_content_bytes"] = 200_000
    async with running_stack(data) as stack:
        tool = weather_tool(tool_server, name="fetch_page", path=f"/big?size={SIZE}")
        await stack.execute(
            task_id="big-1",
            user_message="fetch the page",
            model_config={"provider": "openai", "model": "gpt-4o-mini"},
            tools=[tool],
        )
        events = await stack.events("big-1")
        task = await stack.task("big-1")
        assert task["status"] == "completed", task

        # Clients get the whole tool result and the whole answer.
        result = next(e for e in events if e["event"] == "tool.result")["data"]
        assert len(result["content"]) == SIZE and "content_ref" not in result
        # The LLM got it capped at max_content_bytes, with a note.
        async with httpx.AsyncClient() as http:
            sent = (await http.get(openai_fake.base_url + "/_fake/requests")).json()[-1]
        tool_message = next(m for m in sent["messages"] if m["role"] == "tool")
        assert tool_message["content"].startswith("abcdefghij")
        assert tool_message["content"].endswith(
            f"[truncated: {SIZE - 200_000} of {SIZE} bytes left out]"
        )
        # The fake's answer quotes the (capped) tool result, so it is big too: stored whole.
        assert len(task["result"]["content"]) > 200_000
        final = next(e for e in reversed(events) if e["event"] == "llm.message")["data"]
        assert final["content"] == task["result"]["content"]

        # History holds previews only.
        handle = stack.services.client.get_workflow_handle("agent-execution-big-1")
        sizes = payload_sizes(await handle.fetch_history())
        assert sizes and max(sizes) < 64 * 1024
