"""Two tenants and an admin, for the tenant tests (REST in tests/api, A2A in tests/a2a, the
console in tests/ui): their keys in the environment, the config that puts them in tenants,
the service with them, and tasks started with a key."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.a2a.conftest import a2a_config
from tests.conftest import Stack, running_stack
from tests.fakes.server import FakeServer

KEYS_ENV = "TE_TEST_TENANT_KEYS"
SECRETS = {"alice": "alice-key-1", "bob": "bob-key-2", "root": "root-key-3"}
TENANTS = {"alice": "team-a", "bob": "team-b"}  # root: `default`, with the admin scope
MODEL = {"provider": "openai", "model": "gpt-4o-mini"}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[name]}"}


@contextlib.contextmanager
def tenant_keys(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`data` (a test config) with alice in team-a, bob in team-b and root an admin; the keys
    are in the environment while the block runs."""
    data["server"]["api_keys_env"] = KEYS_ENV
    data["server"]["api_key_tenants"] = dict(TENANTS)
    data["server"]["api_key_scopes"] = {"root": ["read", "write", "approve", "admin"]}
    os.environ[KEYS_ENV] = ",".join(f"{name}:{secret}" for name, secret in SECRETS.items())
    try:
        yield data
    finally:
        del os.environ[KEYS_ENV]


@contextlib.asynccontextmanager
async def tenant_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    """The service (A2A on every transport, push configs kept but never delivered) with
    alice, bob and root (`tenant_keys`)."""
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path)
    data["a2a"]["push_notifications"] = {"allow_private_hosts": True, "max_attempts": 1}
    with tenant_keys(data):
        async with running_stack(data) as stack:
            yield stack


async def start(
    http: httpx.AsyncClient, who: str, status: str = "completed", **body: Any
) -> dict[str, Any]:
    """A task `who` starts over REST, once it ends or pauses; it must then be in `status`."""
    response = await http.post(
        "/api/v1/execute?wait=true", json={"model_config": MODEL, **body}, headers=bearer(who)
    )
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    assert task["status"] == status, task
    return task
