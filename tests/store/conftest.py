"""The store fixtures: stores of each kind (in memory, SQLite, PostgreSQL), opened as a test
asks, closed after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from temporal_executor.store import Store, memory_store, open_sqlite_store, open_store

MakeStore = Callable[..., Awaitable[Store]]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    """Opens stores of the parametrised kind; SQLite ones share one file, PostgreSQL ones one
    new database (each store its own pool, as on separate hosts)."""
    opened: list[Store] = []
    # Asked for only here, so that the other kinds run where PostgreSQL cannot.
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""

    async def make(poll_interval: float = 0.05) -> Store:
        store: Store
        if request.param == "memory":
            store = memory_store(poll_interval=poll_interval)
        elif request.param == "sqlite":
            path = tmp_path / "state" / "events.db"
            store = await open_sqlite_store(path, poll_interval=poll_interval)
        else:
            store = await open_store(postgres_url, poll_interval=poll_interval)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def store(make_store: MakeStore) -> Store:
    return await make_store()
