"""Schemathesis over the whole `/openapi.json` (REST and A2A HTTP+JSON and JSON-RPC routes),
against the real service (`service_url`: `serve` and `worker` processes, the session's
Temporal dev server, the SQLite store and the scripted OpenAI fake). Every answer must be one
the spec documents (status, content type, body schema), never a 5xx, and every 4xx our JSON
error.

Fixed seed (`derandomize`) and a bounded example count, so CI runs the same requests each
time in about a minute; `TE_FUZZ_EXAMPLES` raises the count for a longer local run.
"""

from __future__ import annotations

import os
from typing import Any

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


@pytest.fixture(scope="module")
def api_schema(service_url: str) -> Any:
    # Data outside the spec may also be too large for the body cap (413).
    rejected = ["400", "401", "403", "404", "405", "409", "413", "415", "422"]
    config = SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": rejected}}}
    )
    return schemathesis.openapi.from_url(service_url + "/openapi.json", config=config)


def test_openapi_fuzz(
    api_schema: Any, session: requests.Session, known_ids: dict[str, str]
) -> None:
    """Every operation, with data that fits the spec and data that does not, and (where it
    takes ids) data that fits with the ids of tasks that exist, one ended and one waiting
    for approval; every problem of every operation is reported (not only the first)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30  # REST, A2A HTTP+JSON (1.0 and 0.3), JSON-RPC, cards
    problems = {}
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        known = {name: value for name, value in known_ids.items() if name in names}
        runs = [
            ("positive", GenerationMode.POSITIVE, {}),
            ("negative", GenerationMode.NEGATIVE, {}),
        ]
        if known:
            runs.append(("known ids", GenerationMode.POSITIVE, known))
        for label, mode, ids in runs:
            problem = fuzz(operation, mode, ids, session)
            if problem is not None:
                problems[f"{operation.label} ({label})"] = problem
    assert not problems, "\n\n".join(f"{k}:\n{v}" for k, v in problems.items())


def fuzz(
    operation: Any, mode: GenerationMode, ids: dict[str, str], session: requests.Session
) -> str | None:
    """The first problem of `operation` with `mode` data (and these path `ids`), or None."""
    found: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=ids or None))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # report, do not shrink
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        if found:
            return
        try:
            check(case, session)
        # Every kind: failed checks (a BaseExceptionGroup), a dropped connection.
        except (Exception, FailureGroup) as exc:
            found.append(f"{type(exc).__name__}: {exc}"[:2000])

    try:
        run()
    except Unsatisfiable:
        # Nothing to break: an operation without parameters or body.
        assert mode is GenerationMode.NEGATIVE, operation.label
    return found[0] if found else None


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
