"""The service as real processes for the fuzz tests: `serve` + `worker` on the session's
Temporal dev server, auth on with one full-scope key (`session` sends it)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
import requests

from tests.conftest import config_data, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process

KEYS_ENV = "TE_FUZZ_API_KEYS"
TOKEN = "fuzz-secret-key"


def wait_up(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the API at {url} did not get ready")


@pytest.fixture(scope="package")
def service_url(
    temporal: str, openai_fake: FakeServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`serve` + `worker` as processes, auth on with one full-scope key."""
    tmp_path = tmp_path_factory.mktemp("fuzz")
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["server"]["api_keys_env"] = KEYS_ENV
    config = write_config(data, tmp_path / "config.yaml")
    env = {**os.environ, KEYS_ENV: f"fuzzer:{TOKEN}"}
    url = f"http://127.0.0.1:{data['server']['port']}"
    with (
        service_process(config, tmp_path / "api.log", "serve", env=env),
        service_process(config, tmp_path / "worker.log", "worker", env=env),
    ):
        wait_up(url)
        yield url


@pytest.fixture(scope="package")
def session() -> Iterator[requests.Session]:
    """HTTP with the service's key."""
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        yield http
