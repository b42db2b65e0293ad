"""The PostgreSQL database behind the PostgreSQL store: its connection pool, its schema, and
the LISTEN connection that hears other hosts' appends.

An append sends `NOTIFY te_events, '<task_id>'`, which PostgreSQL delivers only when the
transaction commits. Each store keeps one connection that LISTENs on that channel and wakes
its followers of the task, so a follower on one host sees what another host appended at once
rather than at its next poll. Polling stays as the fallback, e.g. while that connection is
being re-established.

asyncpg is an optional dependency (`temporal-executor[postgres]`), imported here only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError, StoreUnavailableError

try:
    import asyncpg  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigError("events.url is PostgreSQL: install temporal-executor[postgres]") from exc

__all__ = [
    "APPEND_LOCK_SPACE",
    "CHANNEL",
    "LIMIT_LOCK_SPACE",
    "Database",
    "redact",
    "redact_url",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
CHANNEL = "te_events"

# Advisory lock keys. The one-key (bigint) and two-key (int, int) forms are separate key
# spaces; the constants spell "te-schema" and "te-e" to keep clear of other applications.
_SCHEMA_LOCK = 0x74652D736368656D
APPEND_LOCK_SPACE = 0x74652D65
LIMIT_LOCK_SPACE = 0x74652D6C  # "te-l": one lock per limit (the shared limiter)

# Errors that mean "cannot reach or use this database" when opening the store.
_OPEN_ERRORS = (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)
# Errors of a statement that mean "the server is not there just now" (down, restarting, the
# connection cut): the call may succeed later, unlike a wrong statement or a conflict.
_UNAVAILABLE_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
)

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS te_events (
        task_id TEXT NOT NULL,
        seq     BIGINT NOT NULL,
        key     TEXT NOT NULL,
        type    TEXT NOT NULL,
        data    TEXT NOT NULL,
        stream  TEXT,
        attempt INTEGER NOT NULL DEFAULT 0,
        time    DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (task_id, seq),
        UNIQUE (task_id, key)
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS te_events_stream
        ON te_events (task_id, stream, attempt) WHERE stream IS NOT NULL
    """,
    """
    CREATE TABLE IF NOT EXISTS te_messages (
        conversation TEXT NOT NULL,
        idx          INTEGER NOT NULL,
        body         TEXT NOT NULL,
        PRIMARY KEY (conversation, idx)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS te_tasks (
        task_id    TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        status     TEXT NOT NULL,
        state      TEXT NOT NULL,
        created    DOUBLE PRECISION NOT NULL,
        updated    DOUBLE PRECISION NOT NULL
    )
    """,
    # Byte order ("C") makes "keys starting with '<task id>/'" a range scan of the key index.
    # BYTEA, because a TEXT column refuses strings that contain NUL.
    """
    CREATE TABLE IF NOT EXISTS te_blobs (
        key  TEXT COLLATE "C" PRIMARY KEY,
        data BYTEA NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS te_sessions (
        session_id  TEXT PRIMARY KEY,
        active_task TEXT
    )
    """,
    # Added in 0.2.0, with no new schema version: a release before it never reads the table.
    "CREATE TABLE IF NOT EXISTS te_definitions (kind TEXT NOT NULL, name TEXT NOT NULL,"
    " data TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, PRIMARY KEY (kind, name))",
    "CREATE INDEX IF NOT EXISTS te_tasks_session ON te_tasks (session_id, created)",
    "CREATE INDEX IF NOT EXISTS te_tasks_created ON te_tasks (created)",
    "CREATE INDEX IF NOT EXISTS te_tasks_status ON te_tasks (status)",
    "CREATE INDEX IF NOT EXISTS te_tasks_updated ON te_tasks (updated)",
    # The workflow's own events (not token deltas) by time: the tasks changed since a moment.
    "CREATE INDEX IF NOT EXISTS te_events_changes ON te_events (time) WHERE stream IS NULL",
)
# The shared limiter (`postgres_limits.py`), added in 0.2.0 without a new schema version (an
# older release on the same database leaves these tables alone): created when missing.
_LIMIT_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS te_limit_calls (
        name    TEXT NOT NULL,
        lease   TEXT NOT NULL,
        granted DOUBLE PRECISION NOT NULL,
        expires DOUBLE PRECISION NOT NULL,
        tokens  BIGINT NOT NULL,
        PRIMARY KEY (name, lease)
    )
    """,
    "CREATE INDEX IF NOT EXISTS te_limit_calls_lease ON te_limit_calls (lease)",
    "CREATE INDEX IF NOT EXISTS te_limit_calls_granted ON te_limit_calls (name, granted)",
    """
    CREATE TABLE IF NOT EXISTS te_limit_state (
        name          TEXT PRIMARY KEY,
        blocked_until DOUBLE PRECISION NOT NULL DEFAULT 0,
        average_hold  DOUBLE PRECISION
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS te_limit_waiters (
        name  TEXT NOT NULL,
        key   TEXT NOT NULL,
        since DOUBLE PRECISION NOT NULL,
        wake  DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (name, key)
    )
    """,
)
# $1 session, $2 statuses, $3 updated after; each NULL for "any".


class Database:
    """The PostgreSQL database `url` names (a libpq-style URL as asyncpg reads it:
    `postgresql://user:password@host:5432/db`, query parameters such as `sslmode`). The URL is
    kept private: errors and logs show it with the password replaced by `***`.

    `open()` connects at once, creates the tables if missing and starts listening, calling
    `on_notify(task_id)` for every append any host makes (and `on_reconnect()` when
    notifications may have been missed); `close()` it when done."""

    def __init__(
        self,
        url: str,
        *,
        on_notify: Callable[[str], None],
        on_reconnect: Callable[[], None],
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url = redact_url(url)
        self._dsn = url
        self._on_notify = on_notify
        self._on_reconnect = on_reconnect
        self._min_connections = min_connections
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._pool: Any = None
        self._listening: asyncio.Task[None] | None = None
        self._closed = False

    async def open(self) -> None:
        """Raises ConfigError, naming the URL without its password, when that fails."""
        try:
            await self._start()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, _OPEN_ERRORS):
                # Not `from exc`: asyncpg's message may quote the URL, password and all.
                raise _open_error(self._dsn, exc) from None
            raise

    async def close(self) -> None:
        self._closed = True
        if self._listening is not None:
            self._listening.cancel()
            with suppress(asyncio.CancelledError):
                await self._listening
            self._listening = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10)
            except TimeoutError:
                pool.terminate()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A connection from the pool (autocommit: each statement is its own transaction)."""
        if self._closed or self._pool is None:
            raise RuntimeError("the event store is closed")
        try:
            async with self._pool.acquire() as db:
                yield db
        except _UNAVAILABLE_ERRORS as exc:
            reason = redact(str(exc), self._dsn) or type(exc).__name__
            raise StoreUnavailableError(
                f"PostgreSQL event store {redact_url(self._dsn)} is unavailable: {reason}"
            ) from None

    async def execute(self, sql: str, *args: Any) -> Any:
        """One statement on a pooled connection (its own transaction)."""
        async with self.connection() as db:
            return await db.execute(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        async with self.connection() as db:
            return list(await db.fetch(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.connection() as db:
            return await db.fetchval(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A connection in a transaction, committed when the block ends, else rolled back.

        Should the block be cancelled mid-statement, the pool rolls back (or drops) the
        connection as it takes it back, so no transaction or lock is left behind.
        """
        async with self.connection() as db, db.transaction():
            yield db

    async def _start(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=self._min_connections,
            max_size=self._max_connections,
            timeout=self._connect_timeout,
        )
        await self._prepare()
        listener = await self._listen()
        self._listening = asyncio.create_task(self._keep_listening(listener))

    async def _prepare(self) -> None:
        async with self.transaction() as db:
            # Under a lock, so that hosts starting together create the tables once.
            await db.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
            version = 0
            if await db.fetchval("SELECT to_regclass('te_schema_version') IS NOT NULL"):
                version = await db.fetchval("SELECT MAX(version) FROM te_schema_version") or 0
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"events.url: {self.url} has event store schema version {version}; this "
                    f"version of temporal-executor knows only up to {SCHEMA_VERSION}"
                )
            if version == SCHEMA_VERSION:
                # Nothing to create (also works without the CREATE privilege), unless the
                # database is from before the limiter.
                if not await db.fetchval("SELECT to_regclass('te_limit_waiters') IS NOT NULL"):
                    for statement in _LIMIT_SCHEMA:
                        await db.execute(statement)
                return
            await db.execute(
                "CREATE TABLE IF NOT EXISTS te_schema_version ("
                " one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),"
                " version INTEGER NOT NULL)"
            )
            for statement in _SCHEMA + _LIMIT_SCHEMA:
                await db.execute(statement)
            await db.execute(
                "INSERT INTO te_schema_version (version) VALUES ($1)"
                " ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                SCHEMA_VERSION,
            )

    async def _listen(self) -> Any:
        """A new connection that LISTENs on the channel and wakes followers of the tasks."""
        listener = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
        try:
            await listener.add_listener(CHANNEL, self._on_notification)
        except BaseException:
            await listener.close()
            raise
        return listener

    async def _keep_listening(self, listener: Any) -> None:
        """Hold the LISTEN connection; when it is lost, reconnect (backing off on failure)."""
        delay = 0.5
        while True:
            try:
                await _until_closed(listener)
            finally:
                await _close_quietly(listener)
            logger.warning("PostgreSQL event store %s: LISTEN connection lost", self.url)
            while True:
                try:
                    listener = await self._listen()
                    break
                except _OPEN_ERRORS as exc:
                    logger.warning(
                        "PostgreSQL event store %s: cannot LISTEN (%s); retrying in %.1f s",
                        self.url,
                        redact(str(exc), self._dsn),
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            delay = 0.5
            # Notifications sent while we were away are lost: every follower reads again.
            self._on_reconnect()

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, task_id: str) -> None:
        self._on_notify(task_id)


async def _until_closed(connection: Any) -> None:
    closed = asyncio.Event()
    connection.add_termination_listener(lambda _: closed.set())
    if not connection.is_closed():
        await closed.wait()


async def _close_quietly(connection: Any) -> None:
    try:
        await asyncio.wait_for(connection.close(), 5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        connection.terminate()


def _open_error(url: str, exc: BaseException) -> ConfigError:
    reason = redact(str(exc), url) or type(exc).__name__
    return ConfigError(
        f"events.url: cannot open PostgreSQL event store {redact_url(url)}: {reason}"
    )


def redact_url(url: str) -> str:
    """`url` with its password (in the user part or a `password=` parameter) shown as `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    netloc = parts.netloc
    # Split at the last "@": an unencoded "@" in a password must not show the rest of it.
    auth, at, hosts = netloc.rpartition("@")
    if at and ":" in auth:
        netloc = f"{auth.partition(':')[0]}:***@{hosts}"
    query = "&".join(
        f"{name}=***" if unquote(name) == "password" else f"{name}{equals}{value}"
        for name, equals, value in _parameters(parts.query)
    )
    return parts._replace(netloc=netloc, query=query).geturl()


def redact(text: str, url: str) -> str:
    """`text` with every form of the password in `url` replaced by `***`."""
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _secrets(url: str) -> set[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return {url}
    auth = parts.netloc.rpartition("@")[0]
    # asyncpg splits at the first "@", we at the last: hide what either takes as the password.
    candidates = {auth.partition(":")[2], auth.partition("@")[0].partition(":")[2]}
    candidates |= {
        value for name, _, value in _parameters(parts.query) if unquote(name) == "password"
    }
    found: set[str] = set()
    for candidate in candidates:
        found |= {candidate, unquote(candidate), unquote(candidate.replace("+", " "))}
    return {secret for secret in found if secret}


def _parameters(query: str) -> list[tuple[str, str, str]]:
    """The query's `name=value` pairs as written (not decoded)."""
    return [pair.partition("=") for pair in query.split("&") if pair]
