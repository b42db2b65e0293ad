"""Fixtures for the event store tests: a private PostgreSQL server for the session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.events.postgres_server import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session; skips (fails on CI) if none can run here."""
    pytest.importorskip("asyncpg", reason="asyncpg is not installed: pip install -e .[test]")
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run on CI: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    with server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database: each test starts from nothing."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:16]}")
