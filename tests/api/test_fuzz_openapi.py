"""Schemathesis over the whole `/openapi.json` (REST and A2A HTTP+JSON and JSON-RPC routes),
against the real service: `serve` and `worker` processes, the session's Temporal dev server,
the SQLite store and the scripted OpenAI fake. Every answer must be one the spec documents
(status, content type, body schema), never a 5xx, and every 4xx our JSON error.

Fixed seed (`derandomize`) and a bounded example count, so CI runs the same requests each
time in about a minute; `TE_FUZZ_EXAMPLES` raises the count for a longer local run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import config_data, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process

KEYS_ENV = "TE_FUZZ_API_KEYS"
TOKEN = "fuzz-secret-key"
EXAMPLES = int(os.environ.get("TE_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

JSONRPC_CHECKS = [c for c in CHECKS if c is not negative_data_rejection]
JSONRPC_PATHS = ("/a2a", "/a2a/")


def wait_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the API at {url} did not get ready")


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def api_schema(service_url: str) -> Any:
    # Data outside the spec may also be too large for the body cap (413).
    rejected = ["400", "401", "403", "404", "405", "409", "413", "415", "422"]
    config = SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": rejected}}}
    )
    return schemathesis.openapi.from_url(service_url + "/openapi.json", config=config)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        yield http


def test_openapi_fuzz(api_schema: Any, session: requests.Session) -> None:
    """Every operation, with data that fits the spec and data that does not; every problem
    of every operation is reported (not only the first)."""
    problems: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30  # REST, A2A HTTP+JSON (1.0 and 0.3), JSON-RPC, cards
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],  # report, do not shrink
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: Case) -> None:
                key = f"{operation.label} ({mode.value})"
                if key in problems:
                    return
                try:
                    check(case, session)
                # Every kind: failed checks (a BaseExceptionGroup), a dropped connection.
                except (Exception, FailureGroup) as exc:
                    problems[key] = f"{type(exc).__name__}: {exc}"[:2000]

            try:
                fuzz()
            except Unsatisfiable:
                # Nothing to break: an operation without parameters or body.
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert not problems, "\n\n".join(f"{k}:\n{v}" for k, v in problems.items())


def check(case: Case, session: requests.Session) -> None:
    response = case.call(session=session, timeout=30)
    jsonrpc = case.path in JSONRPC_PATHS
    # JSON-RPC answers a request that breaks its schema with a 200 error response (checked
    # against the spec's JSONRPCResponse), not a 4xx.
    case.validate_response(response, checks=JSONRPC_CHECKS if jsonrpc else CHECKS)
    if 400 <= response.status_code < 500:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        assert isinstance(error, dict), f"{response.status_code}: {response.text[:300]}"
        assert isinstance(error.get("message"), str), response.text[:300]
