"""The store's content columns encrypted at rest, in SQLite and PostgreSQL: what tasks write
(event data, transcripts, blobs, task records) and what users define (a schedule's task
template) is ciphertext in the backend and reads back
as written; a store from before encryption stays readable; rotation keeps old values
readable; `rekey` brings every value to the newest key (or seals, or opens) online, again and
again harmlessly, without overwriting a write made meanwhile."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from temporal_executor.encryption import Keyring, Sealer
from temporal_executor.errors import DecryptionError
from temporal_executor.llm import Message
from temporal_executor.store import Store, open_sqlite_store, open_store
from temporal_executor.store.rekey import SEALED_TABLES, SealedColumns, rekey
from temporal_executor.tasks import TaskResult, TaskState, TaskStatus
from tests.encryption.keys import ring

Open = Callable[[Keyring | None], Awaitable[Store]]


@pytest.fixture(params=["sqlite", "postgres"])
async def open_with(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Open]:
    """Opens the parametrised store (one file or database) with a key ring, or none."""
    opened: list[Store] = []
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""

    async def make(keyring: Keyring | None) -> Store:
        if url:
            store = await open_store(url, sealer=Sealer(keyring))
        else:
            store = await open_sqlite_store(tmp_path / "events.db", sealer=Sealer(keyring))
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


def _ids(marker: str) -> tuple[str, str]:
    # Ids are not content (they are keys, in clear text): they must not hold the marker.
    number = str(sum(marker.encode()))
    return f"t-{number}", f"s-{number}"


async def write(store: Store, marker: str) -> None:
    """One of each content a task writes, all holding `marker`."""
    task, session = _ids(marker)
    await store.events.append(task, "wf:1", "llm.response", {"content": marker})
    await store.transcripts.put(session, 0, [Message(role="user", content=marker)])
    await store.blobs.put(f"{task}/big", marker)
    assert await store.blobs.put_new(f"{task}/memo", marker) == marker
    result = TaskResult(content=marker)
    await store.tasks.save(
        TaskState(task_id=task, session_id=session, status=TaskStatus.COMPLETED, result=result)
    )
    assert await store.definitions.add("schedule", task, {"template": {"user_message": marker}})


async def read(store: Store, marker: str) -> list[str]:
    """The contents `write` wrote, as the store reads them back."""
    task, session = _ids(marker)
    (event,) = await store.events.read(task)
    (message,) = await store.transcripts.get(session)
    state = await store.tasks.get(task)
    (listed,) = [s for s in await store.tasks.find() if s.task_id == task]
    assert state is not None and state.result is not None and listed.result is not None
    definition = await store.definitions.get("schedule", task)
    (every,) = [d for d in await store.definitions.every("schedule") if d == definition]
    assert definition is not None
    return [
        event.data["content"],
        message.content or "",
        await store.blobs.get(f"{task}/big") or "",
        await store.blobs.get(f"{task}/memo") or "",
        state.result.content,
        listed.result.content,
        definition["template"]["user_message"],
        every["template"]["user_message"],
    ]


async def stored(columns: SealedColumns) -> list[str]:
    """Every sealed column's value as the backend holds it."""
    values = []
    for table in SEALED_TABLES:
        values += [value for _, value in await columns.scan(table, None, 10_000)]
    return values


async def test_contents_are_sealed_rotated_and_rekeyed(open_with: Open, tmp_path: Path) -> None:
    before, k1, k2 = (f"MARKER-{n}-{uuid.uuid4().hex[:8]}" for n in ("before", "k1", "k2"))
    # Written before encryption was turned on, in clear text.
    legacy = await open_with(None)
    await write(legacy, before)
    assert legacy.sealed is not None
    assert sum(before in v for v in await stored(legacy.sealed)) == 6  # 2 blobs, 1 of each else

    # Turned on (k1): old values read as they are, new ones are sealed.
    store = await open_with(ring("k1"))
    assert store.sealed is not None
    assert await read(store, before) == [before] * 8
    await write(store, k1)
    assert await read(store, k1) == [k1] * 8
    values = await stored(store.sealed)
    assert not any(k1 in v for v in values)
    assert sum(v.startswith("$te-enc:1:k1:") for v in values) == 6

    # rekey seals what was written before; run again, it rewrites nothing.
    report = await rekey(store.sealed, Sealer(ring("k1")), batch=2)
    assert sum(report.rewritten.values()) == 6 and sum(report.read.values()) == 12
    assert report.rewritten == {
        "events": 1,
        "messages": 1,
        "tasks": 1,
        "blobs": 2,
        "definitions": 1,
    }
    assert sum((await rekey(store.sealed, Sealer(ring("k1")))).rewritten.values()) == 0
    assert not any(before in v for v in await stored(store.sealed))
    if store.kind == "sqlite":  # nor anywhere in its files (free pages, the WAL)
        files = [p.read_bytes() for p in tmp_path.glob("events.db*")]  # noqa: ASYNC240
        assert not any(m.encode() in data for data in files for m in (before, k1))

    # Rotated (k2 in front): everything still reads; new writes use k2; rekey moves all.
    rotated = await open_with(ring("k2", "k1"))
    assert rotated.sealed is not None
    await write(rotated, k2)
    for marker in (before, k1, k2):
        assert await read(rotated, marker) == [marker] * 8
    assert sum((await rekey(rotated.sealed, Sealer(ring("k2", "k1")))).rewritten.values()) == 12
    assert all(v.startswith("$te-enc:1:k2:") for v in await stored(rotated.sealed))
    only_new = await open_with(ring("k2"))
    assert await read(only_new, before) == [before] * 8  # k1 may go now

    # A process without the new key says which key it lacks.
    with pytest.raises(DecryptionError, match="key 'k2', which is not in"):
        await read(await open_with(ring("k1")), k2)

    # Turned off, keys still given: rekey opens everything; then no key is needed.
    opened = await rekey(rotated.sealed, Sealer(ring("k2", sealing=False)))
    assert sum(opened.rewritten.values()) == 18
    assert await read(await open_with(None), k1) == [k1] * 8


async def test_rekey_never_overwrites_a_value_written_meanwhile(open_with: Open) -> None:
    store = await open_with(None)
    await write(store, "meanwhile")
    assert store.sealed is not None
    (events, *_) = SEALED_TABLES
    ((key, old),) = await store.sealed.scan(events, None, 10)
    sealer = Sealer(ring("k1"))
    task, _ = _ids("meanwhile")
    await store.events.append(task, "wf:1", "llm.response", {"content": "changed"})
    assert await store.sealed.replace(events, [((key, old), sealer.seal(old))]) == 0
    assert await store.sealed.replace(events, [((key, old + " "), sealer.seal(old))]) == 0
    ((_, now),) = await store.sealed.scan(events, None, 10)
    assert await store.sealed.replace(events, [((key, now), sealer.seal(now))]) == 1
    (event,) = await (await open_with(ring("k1"))).events.read(task)
    assert event.data == {"content": "changed"}
