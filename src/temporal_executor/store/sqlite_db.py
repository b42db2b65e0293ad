"""The SQLite file behind the SQLite store: one connection, its schema, its transactions.

One connection per `Database`; aiosqlite runs it on its own thread. Every statement runs under
one asyncio lock, so a read never sees the inside of this instance's unfinished write
transaction. Call `close()` when done: the connection thread keeps the process alive.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import ConfigError

__all__ = ["Database"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS events (
        task_id TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        key     TEXT NOT NULL,
        type    TEXT NOT NULL,
        data    TEXT NOT NULL,
        stream  TEXT,
        attempt INTEGER NOT NULL DEFAULT 0,
        time    REAL NOT NULL,
        PRIMARY KEY (task_id, seq),
        UNIQUE (task_id, key)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS events_stream
        ON events (task_id, stream, attempt) WHERE stream IS NOT NULL
    """,
    """
    CREATE TABLE IF NOT EXISTS messages (
        conversation TEXT NOT NULL,
        idx          INTEGER NOT NULL,
        body         TEXT NOT NULL,
        PRIMARY KEY (conversation, idx)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS tasks (
        task_id    TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        status     TEXT NOT NULL,
        state      TEXT NOT NULL,
        created    REAL NOT NULL,
        updated    REAL NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS blobs (
        key  TEXT PRIMARY KEY,
        data TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS sessions (
        session_id  TEXT PRIMARY KEY,
        active_task TEXT
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS tasks_session ON tasks (session_id, created)",
    "CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created)",
    "CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status)",
    "CREATE INDEX IF NOT EXISTS tasks_updated ON tasks (updated)",
    # The workflow's own events (not token deltas) by time: the tasks changed since a moment.
    "CREATE INDEX IF NOT EXISTS events_changes ON events (time) WHERE stream IS NULL",
)


class Database:
    """The SQLite file at `path`; `open()` it, `close()` it."""

    def __init__(self, path: Path, *, busy_timeout: float = 10.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: Path, *, busy_timeout: float = 10.0) -> Database:
        """Open (creating if needed) the file now, so that a bad path fails at start-up."""
        database = cls(path, busy_timeout=busy_timeout)
        async with database._lock:
            await database._connection()
        return database

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            if self._db is not None:
                db, self._db = self._db, None
                await db.close()

    async def query(self, sql: str, parameters: Sequence[Any]) -> list[sqlite3.Row]:
        async with self._lock:
            db = await self._connection()
            return list(await db.execute_fetchall(sql, parameters))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction holding the file's write lock from its first statement."""
        async with self._lock:
            db = await self._connection()
            async with _rollback_on_error(db):
                await db.execute_fetchall("BEGIN IMMEDIATE")
                yield db
                await db.commit()

    async def _connection(self) -> aiosqlite.Connection:
        """The open connection; opens the file and creates the schema on first use.

        Call with `self._lock` held.
        """
        if self._closed:
            raise RuntimeError("the event store is closed")
        if self._db is not None:
            return self._db
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; we issue BEGIN ourselves.
        db = await aiosqlite.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            await self._prepare(db)
        except BaseException:
            await db.close()
            raise
        self._db = db
        return db

    async def _prepare(self, db: aiosqlite.Connection) -> None:
        await db.execute_fetchall(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        ((mode,),) = await db.execute_fetchall("PRAGMA journal_mode = WAL")
        if str(mode).lower() != "wal":
            logger.warning(
                "SQLite event store %s: journal mode is %s, not WAL; concurrent readers will "
                "wait for writers",
                self.path,
                mode,
            )
        await db.execute_fetchall("PRAGMA synchronous = NORMAL")
        async with _rollback_on_error(db):
            # Under the write lock, so two processes opening a new file create it once.
            await db.execute_fetchall("BEGIN IMMEDIATE")
            ((version,),) = await db.execute_fetchall("PRAGMA user_version")
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"events.url: {self.path} has event store schema version {version}; this "
                    f"version of temporal-executor knows only up to {SCHEMA_VERSION}"
                )
            for statement in _SCHEMA:
                await db.execute_fetchall(statement)
            if version < SCHEMA_VERSION:
                await db.execute_fetchall(f"PRAGMA user_version = {SCHEMA_VERSION}")
            await db.commit()


@asynccontextmanager
async def _rollback_on_error(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """Roll back when the block fails or is cancelled, so no transaction is left open.

    aiosqlite runs statements in the order they were issued, even those whose caller was
    cancelled, so the rollback comes after whatever BEGIN or COMMIT was already on its way.
    `rollback()` does nothing when no transaction is open (the BEGIN failed, or a cancelled
    COMMIT went through after all).
    """
    try:
        yield
    except BaseException:
        with suppress(sqlite3.Error):
            await db.rollback()
        raise
