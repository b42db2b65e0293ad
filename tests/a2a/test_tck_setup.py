"""The setup the A2A conformance kit runs against (`tests/a2a/tck.yaml`, the scenario model of
`tests/a2a/tck_model.py`): its scenarios through the real service, so that setup keeps
working. The model's message-id routing reaches it through the transcript, which keeps the
client's message ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from a2a.helpers import get_message_text
from a2a.types import Message, Role, TaskState

from temporal_executor.config import load_config
from tests.a2a.conftest import a2a_client, answer_text, send, user_message
from tests.conftest import Stack, config_data, running_stack

TCK_CONFIG = Path(__file__).with_name("tck.yaml")


def tck_message(prefix: str, text: str = "TCK", **ids: str) -> Message:
    message = user_message(text, **ids)
    message.message_id = f"{prefix}-{message.message_id}"
    return message


@pytest.fixture
async def tck_stack(temporal: str, tmp_path: Path) -> AsyncIterator[Stack]:
    shipped = yaml.safe_load(TCK_CONFIG.read_text())
    data = config_data(temporal, "http://127.0.0.1:9/v1", tmp_path)
    data.update(llm=shipped["llm"], a2a=shipped["a2a"])
    async with running_stack(data) as stack:
        yield stack


def test_the_shipped_config_loads() -> None:
    config = load_config(TCK_CONFIG, env={})
    assert config.llm.providers[0].class_ == "tests.a2a.tck_model:ScenarioModel"
    assert config.server.port == 9999


async def test_scenarios(tck_stack: Stack) -> None:
    async with a2a_client(tck_stack.url, streaming=False) as client:
        done = await send(client, tck_message("tck-complete-task"))
        assert done.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer_text(done) == "Hello from TCK"

        first = tck_message("tck-input-required", "first")
        waiting = await send(client, first)
        assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        # a follow-up that keeps it waiting, then one that completes it
        more = tck_message("tck-input-required", "more", task_id=waiting.id)
        assert (await send(client, more)).status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        last = tck_message("tck-complete-task", "last", task_id=waiting.id)
        finished = await send(client, last)
        assert finished.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer_text(finished) == "Hello from TCK"
        users = [m for m in finished.history if m.role == Role.ROLE_USER]
        assert [(m.message_id, get_message_text(m)) for m in users] == [
            (first.message_id, "first"),
            (more.message_id, "more"),
            (last.message_id, "last"),
        ]

        failed = await send(client, tck_message("tck-reject-task"))
        assert failed.status.state == TaskState.TASK_STATE_FAILED
