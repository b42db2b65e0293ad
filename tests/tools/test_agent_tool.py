"""`agent` tools as the registry sees them: their config checked at submission (a 400 naming
the field), their request schema and description filled in from the agent's card, and the
card's addresses checked by the address guard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from temporal_executor.config import ToolsConfig
from temporal_executor.errors import ToolError, ToolSpecError
from temporal_executor.tools import ToolRegistry, ToolSpec
from temporal_executor.tools.agent import REQUEST_SCHEMA
from tests.fakes.server import FakeServer


def agent(url: str, **fields: Any) -> ToolSpec:
    config = fields.pop("config", {})
    return ToolSpec(name="helper", type="agent", config={"url": url, **config}, **fields)


@pytest.fixture(scope="module")
def card_server() -> Iterator[FakeServer]:
    """An agent's card, which names a JSON-RPC interface: its own (at `/`), or the cloud
    metadata address's (at `/elsewhere`)."""

    async def card(request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        elsewhere = request.url.path.startswith("/elsewhere")
        url = "http://169.254.169.254/a2a" if elsewhere else f"{base}/a2a"
        return JSONResponse(
            {
                "name": "helper_agent",
                "description": "Answers weather questions.",
                "version": "1",
                "supportedInterfaces": [
                    {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
                ],
                "capabilities": {"streaming": True},
                "defaultInputModes": ["text"],
                "defaultOutputModes": ["text"],
                "skills": [],
            }
        )

    routes = [Route(f"{at}/.well-known/agent-card.json", card) for at in ("", "/elsewhere")]
    with FakeServer(Starlette(routes=routes)) as server:
        yield server


def test_a_bad_config_is_refused_at_submission() -> None:
    registry = ToolRegistry(ToolsConfig())
    registry.validate([agent("https://agents.example.com/helper")])
    with pytest.raises(ToolSpecError, match=r"tool 'helper': config.url must be an absolute"):
        registry.validate([agent("agents.example.com")])
    with pytest.raises(ToolSpecError, match="unknown config key 'isolate' "):
        registry.validate([agent("https://a.example", config={"isolate": True})])
    with pytest.raises(ToolSpecError, match=r"config\.timeout"):
        registry.validate([agent("https://a.example", config={"timeout": "soon"})])


async def test_the_schema_and_the_cards_description_fill_in(card_server: FakeServer) -> None:
    registry = ToolRegistry(ToolsConfig(allow_private_hosts=["127.0.0.0/8"]))
    spec = agent(card_server.base_url)
    assert registry.expands([spec])
    (expanded,) = await registry.expand([spec])
    assert expanded.parameters == REQUEST_SCHEMA
    assert expanded.description == "Answers weather questions."
    described = agent(card_server.base_url, description="Ours.")
    (kept,) = await registry.expand([described])
    assert kept.description == "Ours."
    await registry.aclose()


async def test_the_cards_addresses_pass_the_guard(card_server: FakeServer) -> None:
    refusing = ToolRegistry(ToolsConfig())
    with pytest.raises(ToolError, match=r"refusing to call 127\.0\.0\.1: loopback address"):
        await refusing.expand([agent(card_server.base_url)])
    # A card may name any address: it is checked too.
    registry = ToolRegistry(ToolsConfig(allow_private_hosts=["127.0.0.1"]))
    elsewhere = f"{card_server.base_url}/elsewhere"
    with pytest.raises(ToolError, match="cloud metadata address"):
        await registry.expand([agent(elsewhere)])
    await refusing.aclose()
    await registry.aclose()
