"""The wire fakes refuse an image or a file in a form their vendor refuses, with the vendor's
400: what the wire tests of `tests/integration/test_media.py` rely on (a wrong form there
fails the task rather than passing unseen). One wrong form per rule, a right one to show the
checks let it through: Chat Completions and the Responses API (`openai_parts.py`), Anthropic
(`anthropic_rules.py`), Gemini (`gemini_rules.py`)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import FAKE_KEY_ENV
from tests.fakes import anthropic_fake, gemini_fake
from tests.fakes.samples import PDF, PNG
from tests.fakes.server import FakeServer

KEY = os.environ[FAKE_KEY_ENV]
PNG_DATA = base64.b64encode(PNG).decode()

PDF_DATA = base64.b64encode(PDF).decode()
IMAGE = {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_DATA}", "detail": "auto"}
CALL = {"type": "function_call", "call_id": "c1", "name": "chart", "arguments": "{}"}
# (vendor, request body, what the vendor's 400 says): a wrong form of an image or file.
WRONG_FORMS: list[tuple[str, dict[str, Any], str]] = [
    (
        "responses",
        {"input": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        "Invalid value: 'image_url'. Supported values are: 'input_text', 'input_image'",
    ),
    (
        "responses",
        {"input": [{"role": "user", "content": [{**IMAGE, "detail": None}]}]},
        "Missing required parameter: 'input[0].content[0].detail'.",
    ),
    (
        "responses",
        {
            "input": [
                {
                    "role": "user",
                    "content": [{**IMAGE, "image_url": f"data:image/png;base64,{PDF_DATA}"}],
                }
            ]
        },
        "You uploaded an unsupported image.",
    ),
    (
        "responses",
        {
            "input": [
                {
                    "role": "user",
                    "content": [{"type": "input_file", "file_data": PDF_DATA, "filename": "a.pdf"}],
                }
            ]
        },
        "Invalid file data: 'input[0].content[0]'. Expected a base64-encoded data URL",
    ),
    (
        "responses",
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_file",
                            "file_data": f"data:application/pdf;base64,{PDF_DATA}",
                        }
                    ],
                }
            ]
        },
        "Missing required parameter: 'input[0].content[0].filename'.",
    ),
    (
        "responses",
        {
            "input": [
                {"role": "user", "content": "draw"},
                CALL,
                {"type": "function_call_output", "call_id": "c1", "output": [{"type": "text"}]},
            ]
        },
        "Invalid value: 'text'. Supported values are: 'input_text', 'input_image', and "
        "'input_file'.",
    ),
    (
        "responses",
        {"input": [{"role": "assistant", "content": [IMAGE]}]},
        "Invalid value: 'input_image'. Supported values are: 'output_text' and 'refusal'.",
    ),
    (
        "chat",
        {
            "messages": [
                {"role": "user", "content": "draw"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "chart", "arguments": "{}"},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "c1",
                    "content": [{"type": "image_url", "image_url": {"url": IMAGE["image_url"]}}],
                },
            ]
        },
        "Invalid value: 'image_url'. Supported values are: 'text'.",
    ),
    (
        "chat",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {"file_data": f"data:application/pdf;base64,{PDF_DATA}"},
                        }
                    ],
                }
            ]
        },
        "Missing required parameter: 'messages[0].content[0].file.filename'.",
    ),
    (
        "anthropic",
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": PNG_DATA,
                            },
                        }
                    ],
                },
            ]
        },
        "messages.1.content.0: image blocks are only allowed in user turns",
    ),
    (
        "anthropic",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "source": {
                                "type": "base64",
                                "media_type": "text/plain",
                                "data": PNG_DATA,
                            },
                        }
                    ],
                }
            ]
        },
        "messages.0.content.0.document.source.base64.media_type: Input should be 'application/pdf'",
    ),
    (
        "gemini",
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inlineData": {"mimeType": "image/gif", "data": PNG_DATA}}],
                }
            ]
        },
        "Unsupported MIME type: image/gif",
    ),
    (
        "gemini",
        {
            "contents": [
                {"role": "user", "parts": [{"text": "draw"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "chart", "args": {}}}]},
                {
                    "role": "user",
                    "parts": [
                        {
                            "functionResponse": {
                                "name": "chart",
                                "response": {"output": "ok"},
                                "parts": [
                                    {
                                        "fileData": {
                                            "fileUri": "https://x/c.png",
                                            "mimeType": "image/png",
                                        }
                                    }
                                ],
                            }
                        }
                    ],
                },
            ]
        },
        "URI based data is not supported",
    ),
]


@pytest.fixture(scope="module")
def vendor_fakes() -> Iterator[dict[str, FakeServer]]:
    with (
        FakeServer(anthropic_fake.create_app(KEY)) as anthropic,
        FakeServer(gemini_fake.create_app(KEY)) as gemini,
    ):
        yield {"anthropic": anthropic, "gemini": gemini}


async def test_each_fake_refuses_a_wrong_form_as_its_vendor_does(
    openai_fake: FakeServer, vendor_fakes: dict[str, FakeServer]
) -> None:
    """What the wire tests above rely on: a part in a form the vendor refuses is its 400,
    never an answer."""
    openai, bearer = openai_fake.url, {"authorization": f"Bearer {KEY}"}
    where = {
        "responses": (f"{openai}/responses", {"model": "gpt-4o-mini"}, bearer),
        "chat": (f"{openai}/chat/completions", {"model": "gpt-4o-mini"}, bearer),
        "anthropic": (
            vendor_fakes["anthropic"].base_url + "/v1/messages",
            {"model": "claude-sonnet-4-6", "max_tokens": 100},
            {"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        ),
        "gemini": (
            vendor_fakes["gemini"].base_url + "/v1beta/models/gemini-2.5-flash:generateContent",
            {},
            {"x-goog-api-key": KEY},
        ),
    }
    async with httpx.AsyncClient(timeout=10) as client:
        for vendor, body, says in WRONG_FORMS:
            url, base, headers = where[vendor]
            response = await client.post(url, json=base | body, headers=headers)
            assert response.status_code == 400, (vendor, says, response.text)
            assert says in response.text, (vendor, response.text)
        # The right forms pass the same checks (the fakes answer by their rules).
        file = {"type": "input_file", "file_url": "https://example.com/q3.pdf"}
        right = {
            "input": [
                {"role": "user", "content": [IMAGE, file, {"type": "input_text", "text": "hi"}]}
            ]
        }
        url, base, headers = where["responses"]
        answered = await client.post(url, json=base | right, headers=headers)
        assert answered.status_code == 200, answered.text
        (message,) = answered.json()["output"]
        assert message["content"][0]["text"] == "Echo: hi [image/png, file/url]"
