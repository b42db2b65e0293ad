"""Third-party providers plug in through the `temporal_executor.providers` entry point group."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from temporal_executor import plugins
from temporal_executor.config import LLMConfig, ProviderConfig
from temporal_executor.errors import ConfigError, ProviderNotConfiguredError, UnknownProviderError
from temporal_executor.llm import LLMRequest, Message
from temporal_executor.llm.catalog import ProviderCatalog
from temporal_executor.llm.registry import ProviderRegistry

PROVIDER = """
from temporal_executor.llm import Provider
from temporal_executor.llm import LLMResponse, Message, StreamChunk, Usage

class EchoProvider(Provider):
    name = "echo"
    supported_models = ("echo-1",)

    async def chat(self, request):
        text = request.messages[-1].content or ""
        return LLMResponse(message=Message(role="assistant", content=text), usage=Usage())

    async def chat_stream(self, request):
        response = await self.chat(request)
        yield StreamChunk(text=response.message.content or "")
        yield StreamChunk(response=response)
"""


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[None]:
    """An installed distribution declaring the entry point, as pip would leave it."""
    (tmp_path / "echo_plugin.py").write_text(PROVIDER)
    info = tmp_path / "echo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[temporal_executor.providers]\necho = echo_plugin:EchoProvider\n"
    )
    sys.path.insert(0, str(tmp_path))
    plugins._entry_points.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("echo_plugin", None)
        plugins._entry_points.cache_clear()


async def test_entry_point_provider(installed_plugin: None) -> None:
    registry = ProviderRegistry(ProviderCatalog(LLMConfig(providers=[ProviderConfig(name="echo")])))
    registry.check("echo", "echo-1")
    provider = registry.get("echo")
    request = LLMRequest(model="echo-1", messages=[Message(role="user", content="hello")])
    assert (await provider.chat(request)).message.content == "hello"


async def test_provider_class_by_path(tmp_path: Path) -> None:
    """Not packaged: config names the class (`class: module:Class`)."""
    (tmp_path / "echo_module.py").write_text(PROVIDER)
    sys.path.insert(0, str(tmp_path))
    try:
        config = ProviderConfig.model_validate(
            {"name": "mine", "class": "echo_module:EchoProvider"}
        )
        provider = ProviderRegistry(ProviderCatalog(LLMConfig(providers=[config]))).get("mine")
        request = LLMRequest(model="echo-1", messages=[Message(role="user", content="hi")])
        assert (await provider.chat(request)).message.content == "hi"
        wrong = ProviderConfig.model_validate({"name": "x", "class": "echo_module:Nope"})
        with pytest.raises(ConfigError, match="provider 'x': cannot import echo_module:Nope"):
            ProviderRegistry(ProviderCatalog(LLMConfig(providers=[wrong])))
        other = ProviderConfig.model_validate({"name": "y", "class": "json:dumps"})
        with pytest.raises(ConfigError, match="json:dumps is not a Provider class"):
            ProviderRegistry(ProviderCatalog(LLMConfig(providers=[other])))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("echo_module", None)


def test_unknown_and_unconfigured_providers() -> None:
    with pytest.raises(ConfigError, match=r"llm\.providers\.0\.name: unknown provider 'echo'"):
        ProviderRegistry(ProviderCatalog(LLMConfig(providers=[ProviderConfig(name="echo")])))
    registry = ProviderRegistry(
        ProviderCatalog(LLMConfig(providers=[ProviderConfig(name="openai")]))
    )
    with pytest.raises(UnknownProviderError):
        registry.get("nope")
    with pytest.raises(ProviderNotConfiguredError, match="configured: openai"):
        registry.get("anthropic")
