"""The SQLite file behind the SQLite store: its connection, schema and transactions, on a
thread of its own, and a watcher that hears other processes' commits.

Each `Database` owns one connection, used only by one worker thread: an operation (`read`,
`write`) is a plain function that runs there whole, however many statements it runs, queued
with the others (`sqlite_queue.py`: a burst costs one hop). A write runs in a `BEGIN
IMMEDIATE` transaction (shared with the writes queued beside it, each in its own savepoint),
kept when the function returns and rolled back when it raises; once started it runs to its
end even if its caller is cancelled, so no transaction is left open.

Other processes (the API beside a worker on one host) see each other's appends through
`watch`: a thread of its own polls the file's change counter (`PRAGMA data_version`) every few
milliseconds while someone follows a task, which costs nothing while nothing changes, and
calls back when another connection has committed; `nudge()` ends its idle sleep at once when
following starts (else a request that waits for its task sleeps out the idle interval too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError, StoreUnavailableError
from .sqlite_queue import OperationQueue

__all__ = ["Database"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA_VERSION = 1
# What sqlite3's messages say when the file cannot be used just now (SQLITE_FULL, _READONLY,
# _BUSY / _LOCKED after busy_timeout, _IOERR, _CANTOPEN).
_UNAVAILABLE_SIGNS = ("is full", "readonly", "locked", "disk I/O error", "unable to open")

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
    # Added in 0.2.0, with no new schema version: a release before it never reads the table.
    """
    CREATE TABLE IF NOT EXISTS definitions (
        kind    TEXT NOT NULL,
        name    TEXT NOT NULL,
        data    TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (kind, name)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS tasks_session ON tasks (session_id, created)",
    "CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created)",
    "CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status)",
    "CREATE INDEX IF NOT EXISTS tasks_updated ON tasks (updated)",
    # The workflow's own events (not token deltas) by time: the tasks changed since a moment.
    "CREATE INDEX IF NOT EXISTS events_changes ON events (time) WHERE stream IS NULL",
    # The shared limiter (`sqlite_limits.py`); added in 0.2.0 without a new schema version:
    # an older release opening the file leaves these tables alone.
    """
    CREATE TABLE IF NOT EXISTS limit_calls (
        name    TEXT NOT NULL,
        lease   TEXT NOT NULL,
        granted REAL NOT NULL,
        expires REAL NOT NULL,
        tokens  INTEGER NOT NULL,
        PRIMARY KEY (name, lease)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS limit_calls_lease ON limit_calls (lease)",
    "CREATE INDEX IF NOT EXISTS limit_calls_granted ON limit_calls (name, granted)",
    """
    CREATE TABLE IF NOT EXISTS limit_state (
        name          TEXT PRIMARY KEY,
        blocked_until REAL NOT NULL DEFAULT 0,
        average_hold  REAL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS limit_waiters (
        name  TEXT NOT NULL,
        key   TEXT NOT NULL,
        since REAL NOT NULL,
        wake  REAL NOT NULL,
        PRIMARY KEY (name, key)
    ) WITHOUT ROWID
    """,
)


class Database:
    """The SQLite file at `path`; `open()` it, `close()` it."""

    def __init__(self, path: Path, *, busy_timeout: float = 10.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._db: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite")
        self._queue = OperationQueue(self._thread, self._connection)
        self._watching: threading.Event | None = None
        self._nudged = threading.Event()

    @classmethod
    async def open(cls, path: Path, *, busy_timeout: float = 10.0) -> Database:
        """Open (creating if needed) the file now, so that a bad path fails at start-up.
        Processes opening a new file at once create its schema once."""
        database = cls(path, busy_timeout=busy_timeout)
        try:
            await database._run(database._connect)
        except BaseException:
            database._thread.shutdown(wait=False)
            raise
        return database

    async def close(self) -> None:
        if self._watching is not None:
            self._watching.set()
            self._nudged.set()
        if self._db is not None:
            db, self._db = self._db, None
            await self._run(lambda: db.close())
        self._thread.shutdown(wait=False)

    async def read(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """`operation(connection)` on the database thread, outside a transaction."""
        return await self._unavailable(self._queue.submit(operation, write=False))

    async def write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """`operation(connection)` in a write transaction, on the database thread."""
        return await self._unavailable(self._queue.submit(operation, write=True))

    async def query(self, sql: str, parameters: Any = ()) -> list[Any]:
        return await self.read(lambda db: db.execute(sql, parameters).fetchall())

    def watch(
        self,
        changed: Callable[[], None],
        wanted: Callable[[], bool],
        interval: float = 0.005,
        idle: float = 0.1,
    ) -> None:
        """Call `changed()` (on the running loop) whenever another connection has committed
        to the file, as seen every `interval` seconds while `wanted()` (someone follows a
        task), every `idle` seconds otherwise."""
        loop = asyncio.get_running_loop()
        self._watching = stop = threading.Event()
        nudged = self._nudged

        def poll() -> None:
            # Errors never end the watch (a dead watcher would leave followers to the slow
            # poll): a failed read, e.g. on a file that turned read-only, is tried again.
            seen: int | None = None
            with sqlite3.connect(self.path, timeout=self.busy_timeout) as db:
                with contextlib.suppress(sqlite3.Error):
                    (seen,) = db.execute("PRAGMA data_version").fetchone()
                while True:
                    nudged.wait(interval if wanted() else idle)
                    nudged.clear()
                    if stop.is_set():
                        return
                    try:
                        (version,) = db.execute("PRAGMA data_version").fetchone()
                    except sqlite3.Error:
                        continue
                    if seen is not None and version != seen:
                        loop.call_soon_threadsafe(changed)
                    seen = version

        threading.Thread(target=poll, name="sqlite-watch", daemon=True).start()

    def nudge(self) -> None:
        """Let the watcher look now, and at its short interval if someone follows (safe from
        any thread)."""
        self._nudged.set()

    async def _unavailable(self, operation: Awaitable[T]) -> T:
        """`operation`, with the file's "cannot be used just now" errors (disk full,
        read-only, locked too long, I/O error) as `StoreUnavailableError`: worth trying again
        later."""
        try:
            return await operation
        except sqlite3.OperationalError as exc:
            if not any(sign in str(exc) for sign in _UNAVAILABLE_SIGNS):
                raise
            raise StoreUnavailableError(f"SQLite event store {self.path}: {exc}") from exc

    async def _run(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the event store is closed")
        return self._db

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; we issue BEGIN ourselves.
        db = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            deadline = time.monotonic() + self.busy_timeout
            while True:
                try:
                    self._prepare(db)
                    break
                except sqlite3.OperationalError as exc:
                    # A new file's first WAL switch takes an exclusive lock that another
                    # process opening it at the same moment may hold: wait, as for any lock.
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _prepare(self, db: sqlite3.Connection) -> None:
        db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        (mode,) = db.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            logger.warning(
                "SQLite event store %s: journal mode is %s, not WAL; concurrent readers will "
                "wait for writers",
                self.path,
                mode,
            )
        db.execute("PRAGMA synchronous = NORMAL")
        # Under the write lock, so two processes opening a new file create it once.
        db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"events.url: {self.path} has event store schema version {version}; this "
                    f"version of temporal-executor knows only up to {SCHEMA_VERSION}"
                )
            for statement in _SCHEMA:
                db.execute(statement)
            # Written even when unchanged: a file this process cannot write (a read-only
            # file or mount) fails here, at start-up, rather than every task's first write.
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.rollback()
            raise
        db.commit()
