"""The PostgreSQL event store across hosts: each store instance has its own connection pool and
LISTEN connection, as the API and worker processes on different hosts would."""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

import pytest

from temporal_executor.errors import ConfigError
from temporal_executor.store import Store, open_store
from tests.store.postgres_server import PostgresServer, free_port

asyncpg = pytest.importorskip("asyncpg")

OpenStore = Callable[..., Awaitable[Store]]


@pytest.fixture
async def hosts(postgres_url: str) -> AsyncIterator[OpenStore]:
    """Opens stores ("hosts") on one new database; closes them after the test."""
    opened: list[Store] = []

    async def open_(poll_interval: float = 0.05) -> Store:
        store = await open_store(postgres_url, poll_interval=poll_interval)
        assert store.kind == "postgresql"
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


async def listener_pids(url: str) -> set[int]:
    """The server processes of this database's connections that LISTEN for appends."""
    db = await asyncpg.connect(url)
    try:
        rows = await db.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = 'LISTEN \"te_events\"'"
        )
    finally:
        await db.close()
    return {row["pid"] for row in rows}


# --- several hosts ---------------------------------------------------------------------------


async def test_two_hosts_append_concurrently_without_gaps(hosts: OpenStore) -> None:
    a, b = await hosts(), await hosts()

    async def append_all(store: Store, name: str) -> None:
        for i in range(50):
            await store.events.append("t1", f"{name}-{i}", "test", {"by": name})
            # Both hosts also append the same keys: each must be stored once.
            await store.events.append("t1", f"shared-{name[-1]}-{i}", "test", {"by": name})

    # Four writers per host, so that each host's pool appends over several connections.
    await asyncio.gather(
        *(append_all(store, f"{host}{n}") for host, store in (("a", a), ("b", b)) for n in range(4))
    )
    events = await b.events.read("t1", limit=10_000)

    own = 2 * 4 * 50
    shared = 4 * 50  # "shared-<n>-<i>" comes from writer n of both hosts
    assert [e.seq for e in events] == list(range(1, own + shared + 1))
    assert await a.events.read("t1", limit=10_000) == events


async def test_a_follower_is_woken_by_another_hosts_append(hosts: OpenStore) -> None:
    # A poll interval this long leaves the notification as the only way to see events fast.
    follower_host = await hosts(poll_interval=5)
    writer_host = await hosts(poll_interval=5)
    events = follower_host.events.follow("t1")
    try:
        first = asyncio.create_task(anext(events))
        await asyncio.sleep(0.2)  # the follower has read nothing and waits
        assert not first.done()

        started = time.monotonic()
        await writer_host.events.append("t1", "k1", "test", {"n": 1})
        async with asyncio.timeout(4):
            event = await first
        assert time.monotonic() - started < 2
        assert (event.seq, event.data) == (1, {"n": 1})
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def test_listening_resumes_after_the_connection_is_lost(
    hosts: OpenStore, postgres_url: str
) -> None:
    follower_host = await hosts(poll_interval=5)
    (lost,) = await listener_pids(postgres_url)
    admin = await asyncpg.connect(postgres_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", lost)
    finally:
        await admin.close()
    for _ in range(100):  # the store reconnects at once; allow it 5 s
        if (await listener_pids(postgres_url)) - {lost}:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the store did not LISTEN again")

    writer_host = await hosts(poll_interval=5)
    events = follower_host.events.follow("t1")
    try:
        first = asyncio.create_task(anext(events))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await writer_host.events.append("t1", "k1", "test", {})
        async with asyncio.timeout(4):
            assert (await first).seq == 1
        assert time.monotonic() - started < 2
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def test_one_claim_of_a_session_wins_across_hosts(hosts: OpenStore) -> None:
    a, b = await hosts(), await hosts()

    holders = await asyncio.gather(
        *(
            store.sessions.claim("s1", f"{host}-{i}")
            for i in range(20)
            for host, store in (("a", a), ("b", b))
        )
    )

    assert holders.count(None) == 1
    (winner,) = {holder for holder in holders if holder is not None}
    assert await b.sessions.claim("s1", "t-late") == winner


async def test_a_cancelled_append_leaves_no_lock_behind(hosts: OpenStore) -> None:
    store, other = await hosts(), await hosts()
    for n in range(20):
        append = asyncio.create_task(store.events.append("t1", f"cancelled-{n}", "test", {}))
        await asyncio.sleep(0.0002 * n)  # cancel at a different statement each time
        append.cancel()
        with suppress(asyncio.CancelledError):
            await append
        # A transaction left open would hold the task's lock: these would hang.
        async with asyncio.timeout(5):
            assert await store.events.append("t1", f"store-{n}", "test", {}) is not None
            assert await other.events.append("t1", f"other-{n}", "test", {}) is not None
    events = await store.events.read("t1")

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len(events) >= 40


# --- the schema --------------------------------------------------------------------------------


async def test_schema_version_is_recorded_and_a_newer_one_refused(
    hosts: OpenStore, postgres_url: str
) -> None:
    store = await hosts()
    await store.events.append("t1", "k1", "test", {})
    await store.close()
    reopened = await hosts()  # the tables are there: opening again keeps the data
    assert [e.seq for e in await reopened.events.read("t1")] == [1]

    db = await asyncpg.connect(postgres_url)
    try:
        assert await db.fetchval("SELECT version FROM te_schema_version") == 1
        await db.execute("UPDATE te_schema_version SET version = 99")
    finally:
        await db.close()
    with pytest.raises(ConfigError, match="schema version 99"):
        await open_store(postgres_url)


# --- open_store ------------------------------------------------------------------------------


async def test_open_over_a_unix_socket(postgres_server: PostgresServer, postgres_url: str) -> None:
    database = postgres_url.rpartition("/")[2]
    url = (
        f"postgresql:///{database}?host={postgres_server.socket_dir}"
        f"&port={postgres_server.port}&user=postgres"
    )
    store = await open_store(url)
    try:
        assert await store.events.append("t1", "k1", "test", {}) is not None
    finally:
        await store.close()


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.mark.parametrize(
    "template",
    [
        # Trust auth lets the superuser in: the database is what is missing.
        "postgresql://postgres:s3cret-Pass@{server}/no_such_database",
        "postgresql://someone:s3cret-Pass@{server}/postgres",  # no such role
        "postgres://someone:s3cret-Pass@127.0.0.1:{closed_port}/events",
        "postgresql://someone:s3cret-Pass@127.0.0.1:not-a-port/events",
        "postgresql://someone:s3cret%2DPass@127.0.0.1:{closed_port}/events",
        "postgresql://someone:s3cret@Pass@127.0.0.1:{closed_port}/events",
        "postgresql://someone@127.0.0.1:{closed_port}/events?password=s3cret-Pass",
    ],
)
async def test_a_bad_url_fails_without_showing_the_password(
    template: str, postgres_server: PostgresServer, closed_port: int
) -> None:
    server = f"{postgres_server.host}:{postgres_server.port}"
    url = template.format(server=server, closed_port=closed_port)

    with pytest.raises(ConfigError, match=r"^events\.url: cannot open PostgreSQL") as caught:
        await open_store(url)

    # Not in the message, nor anywhere in the traceback a log would show.
    shown = "".join(traceback.format_exception(caught.value))
    assert "s3cret" not in shown and "Pass" not in shown, shown
    assert "@127.0.0.1:" in str(caught.value)  # the rest of the URL helps to find the mistake


async def test_without_asyncpg_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # makes `import asyncpg` fail
    monkeypatch.delitem(sys.modules, "temporal_executor.store.postgres")
    monkeypatch.delitem(sys.modules, "temporal_executor.store.postgres_db")

    with pytest.raises(ConfigError, match=r"install temporal-executor\[postgres\]"):
        await open_store("postgresql://someone:s3cret@127.0.0.1/events")
