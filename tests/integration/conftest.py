"""What the integration tests of several vendors share: the vendor wire fakes besides the
session's OpenAI fake (`tests/conftest.py`), one set a module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import FAKE_KEY_ENV
from tests.fakes import anthropic_fake, gemini_fake
from tests.fakes.server import FakeServer

KEY = os.environ[FAKE_KEY_ENV]


@pytest.fixture(scope="module")
def vendor_fakes() -> Iterator[dict[str, FakeServer]]:
    """Anthropic, Gemini, and Vertex AI's Gemini and Claude (which take an access token)."""
    with (
        FakeServer(anthropic_fake.create_app(KEY)) as anthropic,
        FakeServer(gemini_fake.create_app(KEY)) as gemini,
        FakeServer(gemini_fake.create_app(access_token=KEY)) as vertex_gemini,
        FakeServer(anthropic_fake.create_app(access_token=KEY)) as vertex_claude,
    ):
        yield {
            "anthropic": anthropic,
            "gemini": gemini,
            "vertex-gemini": vertex_gemini,
            "vertex-claude": vertex_claude,
        }
