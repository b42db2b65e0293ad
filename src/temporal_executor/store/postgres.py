"""The store in PostgreSQL, shared by the API and worker processes of several hosts.

Every append runs in one transaction that first takes a transaction-scoped advisory lock on
the task (`pg_advisory_xact_lock`), so appends to one task from any number of connections and
hosts run one after another: each one's reads start after the previous one committed, so the
idempotency and stale-attempt checks see every earlier event and `MAX(seq) + 1` is the next
number. Appends to different tasks do not wait for each other (unless their ids hash alike).
Other hosts' followers are woken through NOTIFY (see `postgres_db.py`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from ..encryption import Sealer
from ..llm.messages import Message
from ..tasks import Event, TaskState
from ..tenants import SEPARATOR, key_prefix
from . import appends, base
from .postgres_db import APPEND_LOCK_SPACE, CHANNEL, Database
from .postgres_limits import PostgresLimiter
from .postgres_sealed import PostgresColumns, from_bytea, to_bytea

__all__ = ["open_postgres_store"]

# $1 session, $2 statuses, $3 updated after, $4 the tenant's key prefix (`tenants.py`; ''
# for the default tenant, whose keys hold no separator); each NULL for "any".
_TASK_FILTER = (
    "($1::text IS NULL OR session_id = $1) AND ($2::text[] IS NULL OR status = ANY($2))"
    " AND ($3::double precision IS NULL OR updated > $3 OR task_id IN"
    " (SELECT task_id FROM te_events WHERE stream IS NULL AND time > $3))"
    f" AND ($4::text IS NULL OR CASE WHEN $4 = '' THEN strpos(task_id, '{SEPARATOR}') = 0"
    " ELSE left(task_id, length($4)) = $4 END)"
)


def _task_filter(
    where: base.TaskFilter,
) -> tuple[str | None, list[str] | None, float | None, str | None]:
    statuses = None if where.statuses is None else [str(s) for s in where.statuses]
    prefix = None if where.tenant is None else key_prefix(where.tenant) or ""
    return where.session_id, statuses, where.updated_after, prefix


class _Events(base.EventLog):
    def __init__(self, sealer: Sealer, poll_interval: float) -> None:
        super().__init__(poll_interval=poll_interval)
        self.db: Database | None = None
        self.sealer = sealer

    def _event(self, task_id: str, row: Any) -> Event:
        return Event(
            task_id=task_id,
            seq=row["seq"],
            type=row["type"],
            data=json.loads(self.sealer.open(row["data"])),
            time=row["time"],
        )

    async def _append(self, task_id: str, new: Sequence[appends.NewEvent]) -> appends.AppendPlan:
        assert self.db is not None
        keys, streams = appends.asked(new)
        async with self.db.transaction() as db:
            # Statements of a READ COMMITTED transaction see what was committed before they
            # began, so these reads see every append that held the task's lock before us.
            await db.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", APPEND_LOCK_SPACE, task_id
            )
            rows = await db.fetch(
                "SELECT key, seq, type, data, time FROM te_events"
                " WHERE task_id = $1 AND key = ANY($2::text[])",
                task_id,
                keys,
            )
            last_seq = await db.fetchval(
                "SELECT COALESCE(MAX(seq), 0) FROM te_events WHERE task_id = $1", task_id
            )
            attempts = await db.fetch(
                "SELECT stream, MAX(attempt) AS attempt FROM te_events"
                " WHERE task_id = $1 AND stream = ANY($2::text[]) GROUP BY stream",
                task_id,
                streams,
            )
            log = appends.LogState(
                existing={row["key"]: self._event(task_id, row) for row in rows},
                last_seq=int(last_seq),
                attempts={row["stream"]: row["attempt"] for row in attempts},
            )
            plan = appends.plan_append(task_id, log, new)
            new_rows = plan.rows
            seal = self.sealer.seal
            if new_rows:
                await db.executemany(
                    "INSERT INTO te_events (task_id, seq, key, type, data, stream, attempt, time)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    [
                        (task_id, e.seq, n.key, n.type, seal(data), n.stream, n.attempt, e.time)
                        for e, n, data in new_rows
                    ],
                )
                await db.execute("SELECT pg_notify($1, $2)", CHANNEL, task_id)
            if plan.replaced:
                await db.executemany(
                    "UPDATE te_events SET data = $1 WHERE task_id = $2 AND key = $3",
                    [(seal(data), task_id, key) for key, _, data in plan.replaced],
                )
        return plan

    async def last_attempt(self, task_id: str, stream: str) -> int:
        assert self.db is not None
        attempt = await self.db.fetchval(
            "SELECT COALESCE(MAX(attempt), 0) FROM te_events WHERE task_id = $1 AND stream = $2",
            task_id,
            stream,
        )
        return int(attempt)

    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        assert self.db is not None
        rows = await self.db.fetch(
            "SELECT seq, type, data, time FROM te_events WHERE task_id = $1 AND seq > $2"
            " ORDER BY seq LIMIT $3",
            task_id,
            after,
            max(limit, 0),
        )
        return [self._event(task_id, row) for row in rows]


class _Transcripts(base.Transcripts):
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def _put(self, conversation: str, first_index: int, messages: list[Message]) -> None:
        await self.db.execute(
            "INSERT INTO te_messages (conversation, idx, body)"
            " SELECT $1, idx, body FROM unnest($2::integer[], $3::text[]) AS m (idx, body)"
            " ON CONFLICT (conversation, idx) DO UPDATE SET body = excluded.body",
            conversation,
            list(range(first_index, first_index + len(messages))),
            [self.sealer.seal(message.model_dump_json()) for message in messages],
        )

    async def get(self, conversation: str, count: int | None = None) -> list[Message]:
        rows = await self.db.fetch(
            "SELECT idx, body FROM te_messages"
            " WHERE conversation = $1 AND idx >= 0 AND ($2::bigint IS NULL OR idx < $2)"
            " ORDER BY idx",
            conversation,
            count,
        )
        return base.contiguous((index, self.sealer.open(body)) for index, body in rows)

    async def count(self, conversation: str) -> int:
        count = await self.db.fetchval(
            "SELECT COALESCE(MAX(idx), -1) + 1 FROM te_messages WHERE conversation = $1",
            conversation,
        )
        return int(count)

    async def truncate(self, conversation: str, count: int) -> None:
        await self.db.execute(
            "DELETE FROM te_messages WHERE conversation = $1 AND idx >= $2", conversation, count
        )


class _Blobs(base.Blobs):
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def put(self, key: str, data: str) -> None:
        await self.db.execute(
            "INSERT INTO te_blobs (key, data) VALUES ($1, $2)"
            " ON CONFLICT (key) DO UPDATE SET data = excluded.data",
            key,
            to_bytea(self.sealer.seal(data)),
        )

    async def get(self, key: str) -> str | None:
        data = await self.db.fetchval("SELECT data FROM te_blobs WHERE key = $1", key)
        return None if data is None else self.sealer.open(from_bytea(data))

    async def put_new(self, key: str, data: str) -> str:
        stored = await self.db.fetchval(
            "WITH new AS (INSERT INTO te_blobs (key, data) VALUES ($1, $2)"
            " ON CONFLICT (key) DO NOTHING RETURNING data)"
            " SELECT data FROM new UNION ALL SELECT data FROM te_blobs WHERE key = $1 LIMIT 1",
            key,
            to_bytea(self.sealer.seal(data)),
        )
        return self.sealer.open(from_bytea(stored))


class _Tasks(base.TaskRecords):
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def save(self, state: TaskState) -> None:
        await self.db.execute(
            "INSERT INTO te_tasks (task_id, session_id, status, state, created, updated)"
            " VALUES ($1, $2, $3, $4, $5, $5)"
            " ON CONFLICT (task_id) DO UPDATE SET session_id = excluded.session_id,"
            " status = excluded.status, state = excluded.state, updated = excluded.updated"
            f" WHERE te_tasks.status NOT IN ({base.ENDED})",
            state.task_id,
            state.session_id,
            state.status.value,
            self.sealer.seal(state.model_dump_json()),
            time.time(),
        )

    async def get(self, task_id: str) -> TaskState | None:
        state = await self.db.fetchval("SELECT state FROM te_tasks WHERE task_id = $1", task_id)
        return None if state is None else self._state(state)

    async def _page(self, page: base.TaskPage) -> list[TaskState]:
        order = "updated DESC, task_id DESC" if page.recent_first else "created, task_id"
        rows = await self.db.fetch(
            f"SELECT state FROM te_tasks WHERE {_TASK_FILTER} ORDER BY {order} LIMIT $5 OFFSET $6",
            *_task_filter(page.where),
            page.limit,
            page.offset,
        )
        return [self._state(state) for (state,) in rows]

    async def _count(self, where: base.TaskFilter) -> int:
        count = await self.db.fetchval(
            f"SELECT COUNT(*) FROM te_tasks WHERE {_TASK_FILTER}", *_task_filter(where)
        )
        return int(count)

    def _state(self, stored: str) -> TaskState:
        return TaskState.model_validate_json(self.sealer.open(stored))


class _Sessions(base.Sessions):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self, session_id: str, task_id: str, *, replace: str | None = None
    ) -> str | None:
        async with self.db.transaction() as db:
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

    async def release(self, session_id: str, task_id: str, *, to: str | None = None) -> None:
        await self.db.execute(
            "UPDATE te_sessions SET active_task = $3 WHERE session_id = $1 AND active_task = $2",
            session_id,
            task_id,
            to,
        )

    async def delete(self, session_id: str) -> int:
        async with self.db.transaction() as db:
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


class _Definitions(base.Definitions):
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def add(self, kind: str, name: str, data: dict[str, Any]) -> bool:
        status = await self.db.execute(
            "INSERT INTO te_definitions (kind, name, data, created) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (kind, name) DO NOTHING",
            kind,
            name,
            self.sealer.seal(json.dumps(data)),
            time.time(),
        )
        return str(status).endswith(" 1")  # "INSERT 0 1": one row added

    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        data = await self.db.fetchval(
            "SELECT data FROM te_definitions WHERE kind = $1 AND name = $2", kind, name
        )
        return None if data is None else dict(json.loads(self.sealer.open(data)))

    async def every(self, kind: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT data FROM te_definitions WHERE kind = $1 ORDER BY created, name", kind
        )
        return [json.loads(self.sealer.open(row["data"])) for row in rows]

    async def delete(self, kind: str, name: str) -> bool:
        status = await self.db.execute(
            "DELETE FROM te_definitions WHERE kind = $1 AND name = $2", kind, name
        )
        return str(status) == "DELETE 1"


async def open_postgres_store(
    url: str,
    *,
    poll_interval: float = 0.25,
    min_connections: int = 1,
    max_connections: int = 10,
    connect_timeout: float = 10.0,
    sealer: Sealer | None = None,
) -> base.Store:
    """The store in the PostgreSQL database `url` names; tables are created on open. Raises
    ConfigError, naming the URL without its password, when it cannot be opened. `sealer`
    seals the content columns (`encryption/sealed.py`; default: none)."""
    sealer = sealer or Sealer(None)
    events = _Events(sealer, poll_interval)
    db = Database(
        url,
        on_notify=events.wake,
        on_reconnect=events.wake_all,
        min_connections=min_connections,
        max_connections=max_connections,
        connect_timeout=connect_timeout,
    )
    await db.open()
    events.db = db
    return base.Store(
        kind="postgresql",
        where=db.url,
        events=events,
        transcripts=_Transcripts(db, sealer),
        blobs=_Blobs(db, sealer),
        tasks=_Tasks(db, sealer),
        sessions=_Sessions(db),
        limiter=PostgresLimiter(db),
        definitions=_Definitions(db, sealer),
        closer=db.close,
        sealed=PostgresColumns(db),
    )
