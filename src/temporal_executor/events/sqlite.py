"""An event store in one SQLite file, shared by the API and worker processes of one host.

Several processes may open the same file: the journal is in WAL mode, so readers never block
the writer, and every append runs in a `BEGIN IMMEDIATE` transaction, which takes the file's
write lock before reading `MAX(seq)`, so two processes never hand out the same `seq`. A
process that finds the lock taken waits up to `busy_timeout` seconds for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import ConfigError
from ..models import Event, Message, TaskState
from .base import EventStore, TaskFilter, encode_data

__all__ = ["SqliteEventStore"]

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


def _task_filter(where: TaskFilter) -> tuple[str, list[Any]]:
    conditions, parameters = ["1 = 1"], list[Any]()
    if where.session_id is not None:
        conditions.append("session_id = ?")
        parameters.append(where.session_id)
    if where.statuses is not None:
        conditions.append(f"status IN ({', '.join('?' * len(where.statuses))})")
        parameters += where.statuses
    if where.updated_after is not None:
        conditions.append(
            "(updated > ? OR task_id IN"
            " (SELECT task_id FROM events WHERE stream IS NULL AND time > ?))"
        )
        parameters += [where.updated_after, where.updated_after]
    return " AND ".join(conditions), parameters


class SqliteEventStore(EventStore):
    """The event store in the SQLite file at `path`, created with its directory if missing.

    One connection per instance; aiosqlite runs it on its own thread. Every statement runs
    under one asyncio lock, so a read never sees the inside of this instance's unfinished
    write transaction. Call `close()` when done: the connection thread keeps the process alive.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        poll_interval: float = 0.25,
        busy_timeout: float = 10.0,
    ) -> None:
        super().__init__(poll_interval=poll_interval)
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        poll_interval: float = 0.25,
        busy_timeout: float = 10.0,
    ) -> SqliteEventStore:
        """Open (creating if needed) the file now, so that a bad path fails at startup."""
        store = cls(path, poll_interval=poll_interval, busy_timeout=busy_timeout)
        async with store._lock:
            await store._connection()
        return store

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            if self._db is not None:
                db, self._db = self._db, None
                await db.close()

    # --- the EventStore methods ----------------------------------------------------------

    async def _append(
        self,
        task_id: str,
        key: str,
        type: str,
        data: dict[str, Any],
        stream: str | None,
        attempt: int,
    ) -> Event | None:
        encoded = encode_data(data)
        async with self._transaction() as db:
            existing = list(
                await db.execute_fetchall(
                    "SELECT seq, type, data, time FROM events WHERE task_id = ? AND key = ?",
                    (task_id, key),
                )
            )
            if existing:
                seq, stored_type, stored_data, stored_time = existing[0]
                return Event(
                    task_id=task_id,
                    seq=seq,
                    type=stored_type,
                    data=json.loads(stored_data),
                    time=stored_time,
                )
            if stream is not None:
                later = await db.execute_fetchall(
                    "SELECT 1 FROM events WHERE task_id = ? AND stream = ? AND attempt > ? LIMIT 1",
                    (task_id, stream, attempt),
                )
                if list(later):
                    return None
            ((seq,),) = await db.execute_fetchall(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE task_id = ?", (task_id,)
            )
            now = time.time()
            await db.execute_fetchall(
                "INSERT INTO events (task_id, seq, key, type, data, stream, attempt, time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (task_id, seq, key, type, encoded, stream, attempt, now),
            )
        return Event(task_id=task_id, seq=seq, type=type, data=json.loads(encoded), time=now)

    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        rows = await self._query(
            "SELECT seq, type, data, time FROM events WHERE task_id = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (task_id, after, max(limit, 0)),
        )
        return [
            Event(task_id=task_id, seq=seq, type=type, data=json.loads(data), time=at)
            for seq, type, data, at in rows
        ]

    async def put_messages(
        self, conversation: str, first_index: int, messages: list[Message]
    ) -> None:
        if first_index < 0:
            raise ValueError("first_index must be >= 0")
        if not messages:
            return
        rows = [
            (conversation, first_index + offset, message.model_dump_json())
            for offset, message in enumerate(messages)
        ]
        async with self._transaction() as db:
            await db.executemany(
                "INSERT OR REPLACE INTO messages (conversation, idx, body) VALUES (?, ?, ?)", rows
            )

    async def get_messages(self, conversation: str, count: int | None = None) -> list[Message]:
        rows = await self._query(
            "SELECT idx, body FROM messages WHERE conversation = ? AND idx >= 0 AND idx < ?"
            " ORDER BY idx",
            (conversation, 2**62 if count is None else count),
        )
        result: list[Message] = []
        for idx, body in rows:
            # Stop at the first missing index: entries after a gap would shift into wrong places.
            if idx != len(result):
                break
            result.append(Message.model_validate_json(body))
        return result

    async def put_blob(self, key: str, data: str) -> None:
        async with self._transaction() as db:
            await db.execute_fetchall(
                "INSERT OR REPLACE INTO blobs (key, data) VALUES (?, ?)", (key, data)
            )

    async def get_blob(self, key: str) -> str | None:
        rows = await self._query("SELECT data FROM blobs WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def message_count(self, conversation: str) -> int:
        # Writes are in order from index 0, so the count is the next index.
        rows = await self._query(
            "SELECT COALESCE(MAX(idx), -1) + 1 FROM messages WHERE conversation = ?",
            (conversation,),
        )
        return int(rows[0][0])

    async def save_task(self, state: TaskState) -> None:
        async with self._transaction() as db:
            await db.execute_fetchall(
                "INSERT INTO tasks (task_id, session_id, status, state, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (task_id) DO UPDATE SET session_id = excluded.session_id,"
                " status = excluded.status, state = excluded.state, updated = excluded.updated",
                (
                    state.task_id,
                    state.session_id,
                    state.status.value,
                    state.model_dump_json(),
                    now := time.time(),
                    now,
                ),
            )

    async def get_task(self, task_id: str) -> TaskState | None:
        rows = await self._query("SELECT state FROM tasks WHERE task_id = ?", (task_id,))
        return TaskState.model_validate_json(rows[0][0]) if rows else None

    async def list_tasks(
        self,
        where: TaskFilter | None = None,
        *,
        recent_first: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskState]:
        condition, parameters = _task_filter(where or TaskFilter())
        order = "updated DESC, task_id DESC" if recent_first else "created, task_id"
        rows = await self._query(
            f"SELECT state FROM tasks WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?",
            [*parameters, max(limit, 0), max(offset, 0)],
        )
        return [TaskState.model_validate_json(state) for (state,) in rows]

    async def count_tasks(self, where: TaskFilter | None = None) -> int:
        condition, parameters = _task_filter(where or TaskFilter())
        rows = await self._query(f"SELECT COUNT(*) FROM tasks WHERE {condition}", parameters)
        return int(rows[0][0])

    async def claim_session(
        self, session_id: str, task_id: str, *, replace: str | None = None
    ) -> str | None:
        async with self._transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT active_task FROM sessions WHERE session_id = ?", (session_id,)
                )
            )
            holder = rows[0][0] if rows else None
            if holder is not None and holder not in (task_id, replace):
                return str(holder)
            await db.execute_fetchall(
                "INSERT INTO sessions (session_id, active_task) VALUES (?, ?)"
                " ON CONFLICT (session_id) DO UPDATE SET active_task = excluded.active_task",
                (session_id, task_id),
            )
        return None

    async def release_session(self, session_id: str, task_id: str) -> None:
        async with self._transaction() as db:
            await db.execute_fetchall(
                "UPDATE sessions SET active_task = NULL WHERE session_id = ? AND active_task = ?",
                (session_id, task_id),
            )

    async def delete_session(self, session_id: str) -> int:
        async with self._transaction() as db:
            condition = "task_id IN (SELECT task_id FROM tasks WHERE session_id = ?)"
            await db.execute_fetchall(f"DELETE FROM events WHERE {condition}", (session_id,))
            await db.execute_fetchall(
                "DELETE FROM blobs WHERE substr(key, 1, instr(key, '/') - 1) IN"
                " (SELECT task_id FROM tasks WHERE session_id = ?)",
                (session_id,),
            )
            ((count,),) = await db.execute_fetchall(
                "SELECT COUNT(*) FROM tasks WHERE session_id = ?", (session_id,)
            )
            await db.execute_fetchall("DELETE FROM tasks WHERE session_id = ?", (session_id,))
            await db.execute_fetchall("DELETE FROM messages WHERE conversation = ?", (session_id,))
            await db.execute_fetchall("DELETE FROM sessions WHERE session_id = ?", (session_id,))
        return int(count)

    # --- the connection ------------------------------------------------------------------

    async def _query(self, sql: str, parameters: Sequence[Any]) -> list[sqlite3.Row]:
        async with self._lock:
            db = await self._connection()
            return list(await db.execute_fetchall(sql, parameters))

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
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
