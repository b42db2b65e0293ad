"""The SQLite connection's queue (`sqlite_queue.py`): writes queued together share one
transaction, each in its own savepoint, and keep their own outcomes."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from temporal_executor.store.sqlite_db import Database


def put(key: str) -> Callable[[sqlite3.Connection], str]:
    def write(db: sqlite3.Connection) -> str:
        db.execute("INSERT INTO blobs (key, data) VALUES (?, 'x')", (key,))
        return key

    return write


def fail_after_writing(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO blobs (key, data) VALUES ('bad', 'x')")
    raise ValueError("this write fails")


def slow(db: sqlite3.Connection) -> None:
    time.sleep(0.2)  # the thread is busy: what is submitted meanwhile queues up


async def test_a_burst_of_writes_keeps_each_outcome(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "events.db")
    try:
        blocker = asyncio.create_task(db.read(slow))
        await asyncio.sleep(0.05)
        writes = [db.write(put(f"k{n}")) for n in range(5)]
        writes.insert(2, db.write(fail_after_writing))
        cancelled = asyncio.ensure_future(db.write(put("never")))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        results = await asyncio.gather(*writes, return_exceptions=True)
        await blocker
        assert results[:2] == ["k0", "k1"] and results[3:] == ["k2", "k3", "k4"]
        assert isinstance(results[2], ValueError)
        keys = await db.query("SELECT key FROM blobs ORDER BY key")
        # the failed write's row is rolled back alone; the cancelled one never ran
        assert [k for (k,) in keys] == ["k0", "k1", "k2", "k3", "k4"]
        with pytest.raises(sqlite3.IntegrityError):
            await db.write(put("k0"))
        assert await db.write(put("k5")) == "k5"
    finally:
        await db.close()
