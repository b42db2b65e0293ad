"""An event store in PostgreSQL, shared by the API and worker processes of several hosts.

Every append runs in one transaction that first takes a transaction-scoped advisory lock on
the task (`pg_advisory_xact_lock`), so appends to one task from any number of connections and
hosts run one after another: each one's reads start after the previous one committed, so the
idempotency and stale-attempt checks see every earlier event and `MAX(seq) + 1` is the next
number. Appends to different tasks do not wait for each other (unless their ids hash alike).

An append also sends `NOTIFY te_events, '<task_id>'`, which PostgreSQL delivers only when the
transaction commits. Each store keeps one connection that LISTENs on that channel and wakes
its followers of the task, so a follower on one host sees what another host appended at once
rather than at its next poll. Polling stays as the fallback, e.g. while that connection is
being re-established.

asyncpg is an optional dependency (`temporal-executor[postgres]`), imported here only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError
from ..models import Event, Message, TaskState
from .base import EventStore, TaskFilter, encode_data

try:
    import asyncpg  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigError("events.url is PostgreSQL: install temporal-executor[postgres]") from exc

__all__ = ["PostgresEventStore"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
CHANNEL = "te_events"

# Advisory lock keys. The one-key (bigint) and two-key (int, int) forms are separate key
# spaces; the constants spell "te-schema" and "te-e" to keep clear of other applications.
_SCHEMA_LOCK = 0x74652D736368656D
_APPEND_LOCK_SPACE = 0x74652D65

# Errors that mean "cannot reach or use this database" when opening the store.
_OPEN_ERRORS = (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)

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
    "CREATE INDEX IF NOT EXISTS te_tasks_session ON te_tasks (session_id, created)",
    "CREATE INDEX IF NOT EXISTS te_tasks_created ON te_tasks (created)",
    "CREATE INDEX IF NOT EXISTS te_tasks_status ON te_tasks (status)",
    "CREATE INDEX IF NOT EXISTS te_tasks_updated ON te_tasks (updated)",
    # The workflow's own events (not token deltas) by time: the tasks changed since a moment.
    "CREATE INDEX IF NOT EXISTS te_events_changes ON te_events (time) WHERE stream IS NULL",
)
# $1 session, $2 statuses, $3 updated after; each NULL for "any".
_TASK_FILTER = (
    "($1::text IS NULL OR session_id = $1) AND ($2::text[] IS NULL OR status = ANY($2))"
    " AND ($3::double precision IS NULL OR updated > $3 OR task_id IN"
    " (SELECT task_id FROM te_events WHERE stream IS NULL AND time > $3))"
)


def _task_filter(where: TaskFilter) -> tuple[str | None, list[str] | None, float | None]:
    statuses = None if where.statuses is None else [str(s) for s in where.statuses]
    return where.session_id, statuses, where.updated_after


def _event(task_id: str, row: Any) -> Event:
    return Event(
        task_id=task_id,
        seq=row["seq"],
        type=row["type"],
        data=json.loads(row["data"]),
        time=row["time"],
    )


class PostgresEventStore(EventStore):
    """The event store in the PostgreSQL database `url` names; tables are created on open.

    `url` is a libpq-style URL as asyncpg reads it: `postgresql://user:password@host:5432/db`
    (percent-encode special characters in the password), with query parameters such as
    `sslmode`; parameters asyncpg does not know become server settings. The URL is kept
    private: errors and logs show it with the password replaced by `***`.

    Open it with `open()`, which connects at once so that a bad URL fails at startup, and
    `close()` it when done.
    """

    def __init__(
        self,
        url: str,
        *,
        poll_interval: float = 0.25,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(poll_interval=poll_interval)
        self.url = redact_url(url)
        self._dsn = url
        self._min_connections = min_connections
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._pool: Any = None
        self._listening: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        poll_interval: float = 0.25,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: float = 10.0,
    ) -> PostgresEventStore:
        """Connect, create the tables if missing, and start listening for other hosts' appends.

        Raises ConfigError, naming the URL without its password, when that fails.
        """
        store = cls(
            url,
            poll_interval=poll_interval,
            min_connections=min_connections,
            max_connections=max_connections,
            connect_timeout=connect_timeout,
        )
        try:
            await store._start()
        except BaseException as exc:
            await store.close()
            if isinstance(exc, _OPEN_ERRORS):
                # Not `from exc`: asyncpg's message may quote the URL, password and all.
                raise _open_error(url, exc) from None
            raise
        return store

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
            # Statements of a READ COMMITTED transaction see what was committed before they
            # began, so the reads below see every append that held this lock before us.
            await db.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", _APPEND_LOCK_SPACE, task_id
            )
            existing = await db.fetchrow(
                "SELECT seq, type, data, time FROM te_events WHERE task_id = $1 AND key = $2",
                task_id,
                key,
            )
            if existing is not None:
                return _event(task_id, existing)
            if stream is not None and await db.fetchval(
                "SELECT 1 FROM te_events WHERE task_id = $1 AND stream = $2 AND attempt > $3"
                " LIMIT 1",
                task_id,
                stream,
                attempt,
            ):
                return None
            now = time.time()
            seq = await db.fetchval(
                "WITH inserted AS ("
                " INSERT INTO te_events (task_id, seq, key, type, data, stream, attempt, time)"
                " SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7"
                " FROM te_events WHERE task_id = $1 RETURNING seq)"
                " SELECT seq FROM inserted, pg_notify($8, $1)",
                task_id,
                key,
                type,
                encoded,
                stream,
                attempt,
                now,
                CHANNEL,
            )
        return Event(task_id=task_id, seq=seq, type=type, data=json.loads(encoded), time=now)

    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        async with self._connection() as db:
            rows = await db.fetch(
                "SELECT seq, type, data, time FROM te_events WHERE task_id = $1 AND seq > $2"
                " ORDER BY seq LIMIT $3",
                task_id,
                after,
                max(limit, 0),
            )
        return [_event(task_id, row) for row in rows]

    async def put_messages(
        self, conversation: str, first_index: int, messages: list[Message]
    ) -> None:
        if first_index < 0:
            raise ValueError("first_index must be >= 0")
        if not messages:
            return
        async with self._connection() as db:
            await db.execute(
                "INSERT INTO te_messages (conversation, idx, body)"
                " SELECT $1, idx, body FROM unnest($2::integer[], $3::text[]) AS m (idx, body)"
                " ON CONFLICT (conversation, idx) DO UPDATE SET body = excluded.body",
                conversation,
                list(range(first_index, first_index + len(messages))),
                [message.model_dump_json() for message in messages],
            )

    async def get_messages(self, conversation: str, count: int | None = None) -> list[Message]:
        async with self._connection() as db:
            rows = await db.fetch(
                "SELECT idx, body FROM te_messages"
                " WHERE conversation = $1 AND idx >= 0 AND ($2::bigint IS NULL OR idx < $2)"
                " ORDER BY idx",
                conversation,
                count,
            )
        result: list[Message] = []
        for idx, body in rows:
            # Stop at the first missing index: entries after a gap would shift into wrong places.
            if idx != len(result):
                break
            result.append(Message.model_validate_json(body))
        return result

    async def put_blob(self, key: str, data: str) -> None:
        async with self._connection() as db:
            await db.execute(
                "INSERT INTO te_blobs (key, data) VALUES ($1, $2)"
                " ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                key,
                data.encode("utf-8", "surrogatepass"),
            )

    async def get_blob(self, key: str) -> str | None:
        async with self._connection() as db:
            data = await db.fetchval("SELECT data FROM te_blobs WHERE key = $1", key)
        return None if data is None else bytes(data).decode("utf-8", "surrogatepass")

    async def message_count(self, conversation: str) -> int:
        # Writes are in order from index 0, so the count is the next index.
        async with self._connection() as db:
            count = await db.fetchval(
                "SELECT COALESCE(MAX(idx), -1) + 1 FROM te_messages WHERE conversation = $1",
                conversation,
            )
        return int(count)

    async def save_task(self, state: TaskState) -> None:
        now = time.time()
        async with self._connection() as db:
            await db.execute(
                "INSERT INTO te_tasks (task_id, session_id, status, state, created, updated)"
                " VALUES ($1, $2, $3, $4, $5, $5)"
                " ON CONFLICT (task_id) DO UPDATE SET session_id = excluded.session_id,"
                " status = excluded.status, state = excluded.state, updated = excluded.updated",
                state.task_id,
                state.session_id,
                state.status.value,
                state.model_dump_json(),
                now,
            )

    async def get_task(self, task_id: str) -> TaskState | None:
        async with self._connection() as db:
            state = await db.fetchval("SELECT state FROM te_tasks WHERE task_id = $1", task_id)
        return None if state is None else TaskState.model_validate_json(state)

    async def list_tasks(
        self,
        where: TaskFilter | None = None,
        *,
        recent_first: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskState]:
        order = "updated DESC, task_id DESC" if recent_first else "created, task_id"
        async with self._connection() as db:
            rows = await db.fetch(
                f"SELECT state FROM te_tasks WHERE {_TASK_FILTER} ORDER BY {order}"
                " LIMIT $4 OFFSET $5",
                *_task_filter(where or TaskFilter()),
                max(limit, 0),
                max(offset, 0),
            )
        return [TaskState.model_validate_json(state) for (state,) in rows]

    async def count_tasks(self, where: TaskFilter | None = None) -> int:
        async with self._connection() as db:
            count = await db.fetchval(
                f"SELECT COUNT(*) FROM te_tasks WHERE {_TASK_FILTER}",
                *_task_filter(where or TaskFilter()),
            )
        return int(count)

    async def claim_session(
        self, session_id: str, task_id: str, *, replace: str | None = None
    ) -> str | None:
        async with self._transaction() as db:
            # Make sure the row exists, then lock it: concurrent claims take turns.
            await db.execute(
                "INSERT INTO te_sessions (session_id, active_task) VALUES ($1, NULL)"
                " ON CONFLICT (session_id) DO NOTHING",
                session_id,
            )
            holder = await db.fetchval(
                "SELECT active_task FROM te_sessions WHERE session_id = $1 FOR UPDATE",
                session_id,
            )
            if holder is not None and holder not in (task_id, replace):
                return str(holder)
            await db.execute(
                "UPDATE te_sessions SET active_task = $2 WHERE session_id = $1",
                session_id,
                task_id,
            )
        return None

    async def release_session(self, session_id: str, task_id: str) -> None:
        async with self._connection() as db:
            await db.execute(
                "UPDATE te_sessions SET active_task = NULL"
                " WHERE session_id = $1 AND active_task = $2",
                session_id,
                task_id,
            )

    async def delete_session(self, session_id: str) -> int:
        async with self._transaction() as db:
            await db.execute(
                "DELETE FROM te_events WHERE task_id IN"
                " (SELECT task_id FROM te_tasks WHERE session_id = $1)",
                session_id,
            )
            # Keys starting with "<task id>/" lie between "<task id>/" and "<task id>0".
            await db.execute(
                "DELETE FROM te_blobs AS b USING te_tasks AS t WHERE t.session_id = $1"
                " AND b.key >= (t.task_id || '/') COLLATE \"C\""
                " AND b.key < (t.task_id || '0') COLLATE \"C\"",
                session_id,
            )
            count = await db.fetchval(
                "WITH deleted AS (DELETE FROM te_tasks WHERE session_id = $1 RETURNING 1)"
                " SELECT COUNT(*) FROM deleted",
                session_id,
            )
            await db.execute("DELETE FROM te_messages WHERE conversation = $1", session_id)
            await db.execute("DELETE FROM te_sessions WHERE session_id = $1", session_id)
        return int(count)

    # --- connections ---------------------------------------------------------------------

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A connection from the pool (autocommit: each statement is its own transaction)."""
        if self._closed or self._pool is None:
            raise RuntimeError("the event store is closed")
        async with self._pool.acquire() as db:
            yield db

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        """A connection in a transaction, committed when the block ends, else rolled back.

        Should the block be cancelled mid-statement, the pool rolls back (or drops) the
        connection as it takes it back, so no transaction or lock is left behind.
        """
        async with self._connection() as db, db.transaction():
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
        async with self._transaction() as db:
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
                return  # nothing to create: also works without the CREATE privilege
            await db.execute(
                "CREATE TABLE IF NOT EXISTS te_schema_version ("
                " one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),"
                " version INTEGER NOT NULL)"
            )
            for statement in _SCHEMA:
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
            for task_id in list(self._waiters):
                self._wake_followers(task_id)

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, task_id: str) -> None:
        self._wake_followers(task_id)

    def _wake_followers(self, task_id: str) -> None:
        waiter = self._waiters.pop(task_id, None)
        if waiter is not None:
            waiter.set()


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
