"""The agent card: fields from config, the endpoints it advertises, open to everyone."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from temporal_executor import __version__
from temporal_executor.api.a2a.card import agent_card
from temporal_executor.api.a2a.hitl import HITL_EXTENSION_URI
from temporal_executor.config import Config
from tests.a2a.conftest import a2a_config
from tests.conftest import Stack, running_stack
from tests.fakes.server import FakeServer


@pytest.fixture
async def http_only_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    """A2A over HTTP only: gRPC is off by default (its card entry: test_grpc.py)."""
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path, grpc={"enabled": False})
    async with running_stack(data) as stack:
        yield stack


async def test_card_from_config(http_only_stack: Stack) -> None:
    a2a_stack = http_only_stack
    response = await a2a_stack.http.get("/.well-known/agent-card.json")
    assert response.status_code == 200
    card = response.json()
    assert card["name"] == "weather-agent"
    assert card["description"] == "Answers weather questions."
    assert card["version"] == __version__  # a2a.version unset: the package's
    assert card["capabilities"]["streaming"] is True
    assert card["capabilities"]["pushNotifications"] is True
    assert [e["uri"] for e in card["capabilities"]["extensions"]] == [HITL_EXTENSION_URI]
    (skill,) = card["skills"]
    assert "openai/gpt-4o-mini" in skill["description"]
    assert "get_weather" in skill["description"] and "get_weather" in skill["tags"]
    interfaces = {
        (i["protocolBinding"], i["protocolVersion"]): i["url"] for i in card["supportedInterfaces"]
    }
    base = a2a_stack.url
    assert interfaces == {
        ("JSONRPC", "1.0"): f"{base}/a2a",
        ("HTTP+JSON", "1.0"): f"{base}/a2a/rest",
    }
    # a strict 1.0 card: none of the 0.3 fields without a2a.advertise_v03
    assert not {"url", "protocolVersion", "preferredTransport", "additionalInterfaces"} & set(card)
    # caching (spec §8.6): revalidation by ETag
    first = await a2a_stack.http.get("/.well-known/agent-card.json")
    assert "max-age" in first.headers["cache-control"] and first.headers["last-modified"]
    etag = first.headers["etag"]
    again = await a2a_stack.http.get(
        "/.well-known/agent-card.json", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.headers["etag"] == etag and not again.content
    assert (await a2a_stack.http.get("/.well-known/agent.json")).json() == card
    assert (await a2a_stack.http.get("/a2a/.well-known/agent-card.json")).json() == card
    assert "securitySchemes" not in card


async def test_card_behind_an_ingress_with_auth(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = a2a_config(
        temporal,
        openai_fake,
        tool_server,
        tmp_path,
        url="https://agents.example.com/weather/",
        advertise_v03=True,
        grpc={"enabled": False},
        skills=[
            {
                "id": "forecast",
                "name": "Forecast",
                "description": "Tells the weather.",
                "tags": ["weather"],
                "examples": ["Weather in Oslo?"],
            }
        ],
    )
    data["server"]["api_keys_env"] = "TE_TEST_A2A_KEYS"
    os.environ["TE_TEST_A2A_KEYS"] = "secret-key"
    try:
        async with running_stack(data) as stack:
            card = (await stack.http.get("/.well-known/agent-card.json")).json()
            assert {i["url"] for i in card["supportedInterfaces"]} == {
                "https://agents.example.com/weather/a2a",
                "https://agents.example.com/weather/a2a/rest",
            }
            # what 0.3 clients read
            assert card["url"] == "https://agents.example.com/weather/a2a"
            assert card["protocolVersion"] == "0.3" and card["preferredTransport"] == "JSONRPC"
            assert [s["id"] for s in card["skills"]] == ["forecast"]
            assert card["skills"][0]["examples"] == ["Weather in Oslo?"]
            assert card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"] == (
                "bearer"
            )
            body = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}
            assert (await stack.http.post("/a2a", json=body)).status_code == 401
            authorized = await stack.http.post(
                "/a2a", json=body, headers={"Authorization": "Bearer secret-key"}
            )
            assert authorized.json()["error"]["code"] == -32001
    finally:
        del os.environ["TE_TEST_A2A_KEYS"]


async def test_a2a_disabled(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path, enabled=False)
    async with running_stack(data) as stack:
        assert (await stack.http.get("/.well-known/agent-card.json")).status_code == 404
        assert (await stack.http.post("/a2a", json={})).status_code in (404, 405)


def test_card_version_from_config_overrides_the_package_version() -> None:
    config = Config.model_validate({"a2a": {"version": "2026.12-team-a"}})
    assert agent_card(config, "http://agents.example.com").version == "2026.12-team-a"
