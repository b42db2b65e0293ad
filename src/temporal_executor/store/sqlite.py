"""The store in one SQLite file, shared by the API and worker processes of one host.

Several processes may open the same file: the journal is in WAL mode, so readers never block
the writer, and every write runs in a `BEGIN IMMEDIATE` transaction, which takes the file's
write lock before reading `MAX(seq)`, so two processes never hand out the same `seq`. A
process that finds the lock taken waits up to `busy_timeout` seconds for it. Each operation
below runs whole on the database's thread (`sqlite_db.py`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..encryption import Sealer
from ..llm.messages import Message
from ..tasks import Event, TaskState
from ..tenants import SEPARATOR, key_prefix
from . import appends, base
from .sqlite_db import Database
from .sqlite_limits import SqliteLimiter
from .sqlite_sealed import SqliteColumns

__all__ = ["open_sqlite_store"]


def _task_filter(where: base.TaskFilter) -> tuple[str, list[Any]]:
    conditions, parameters = ["1 = 1"], list[Any]()
    if where.tenant is not None:
        # By the key (`tenants.py`): the default tenant's hold no separator, the others'
        # start with "<tenant><separator>" (compared as bytes, whatever LIKE's case rules).
        prefix = key_prefix(where.tenant)
        if prefix is None:
            conditions.append(f"instr(task_id, '{SEPARATOR}') = 0")
        else:
            conditions.append("substr(task_id, 1, ?) = ?")
            parameters += [len(prefix), prefix]
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


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


class _Events(base.EventLog):
    def __init__(self, db: Database, sealer: Sealer, poll_interval: float) -> None:
        super().__init__(poll_interval=poll_interval)
        self.db = db
        self.sealer = sealer

    def following_started(self) -> None:
        self.db.nudge()

    async def _append(self, task_id: str, new: Sequence[appends.NewEvent]) -> appends.AppendPlan:
        keys, streams = appends.asked(new)
        seal = self.sealer.seal

        def append(db: sqlite3.Connection) -> appends.AppendPlan:
            existing = db.execute(
                "SELECT key, seq, type, data, time FROM events"
                f" WHERE task_id = ? AND key IN ({_marks(keys)})",
                (task_id, *keys),
            ).fetchall()
            attempts = db.execute(
                "SELECT stream, MAX(attempt) FROM events"
                f" WHERE task_id = ? AND stream IN ({_marks(streams)}) GROUP BY stream",
                (task_id, *streams),
            ).fetchall()
            ((last_seq,),) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE task_id = ?", (task_id,)
            ).fetchall()
            log = appends.LogState(
                existing={key: self._event(task_id, *rest) for key, *rest in existing},
                last_seq=last_seq,
                attempts=dict(attempts),
            )
            plan = appends.plan_append(task_id, log, new)
            rows = plan.rows
            db.executemany(
                "INSERT INTO events (task_id, seq, key, type, data, stream, attempt, time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (task_id, e.seq, n.key, n.type, seal(d), n.stream, n.attempt, e.time)
                    for e, n, d in rows
                ],
            )
            db.executemany(
                "UPDATE events SET data = ? WHERE task_id = ? AND key = ?",
                [(seal(d), task_id, key) for key, _, d in plan.replaced],
            )
            return plan

        return await self.db.write(append)

    async def last_attempt(self, task_id: str, stream: str) -> int:
        rows = await self.db.query(
            "SELECT COALESCE(MAX(attempt), 0) FROM events WHERE task_id = ? AND stream = ?",
            (task_id, stream),
        )
        return int(rows[0][0])

    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        rows = await self.db.query(_READ, (task_id, after, max(limit, 0)))
        return [self._event(task_id, *row) for row in rows]

    def _event(self, task_id: str, seq: int, type: str, data: str, at: float) -> Event:
        """A stored event (the store wrote it valid: not validated again, many a second)."""
        body = json.loads(self.sealer.open(data))
        return Event.model_construct(task_id=task_id, seq=seq, type=type, data=body, time=at)

    async def another_process_appended(self) -> None:
        """Hand the followers of each followed task the events they have not seen: one trip
        to the database thread for every task (not one read per follower woken)."""
        heads = self.heads()
        if not heads:
            return

        def read(db: sqlite3.Connection) -> dict[str, list[Any]]:
            return {
                task_id: db.execute(_READ, (task_id, after, 1000)).fetchall()
                for task_id, after in heads.items()
            }

        for task_id, rows in (await self.db.read(read)).items():
            if rows:
                self.wake(task_id, [self._event(task_id, *row) for row in rows])


_READ = (
    "SELECT seq, type, data, time FROM events WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)


class _Transcripts(base.Transcripts):
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def _put(self, conversation: str, first_index: int, messages: list[Message]) -> None:
        rows = [
            (conversation, first_index + offset, self.sealer.seal(message.model_dump_json()))
            for offset, message in enumerate(messages)
        ]
        await self.db.write(
            lambda db: db.executemany(
                "INSERT OR REPLACE INTO messages (conversation, idx, body) VALUES (?, ?, ?)", rows
            )
        )

    async def get(self, conversation: str, count: int | None = None) -> list[Message]:
        rows = await self.db.query(
            "SELECT idx, body FROM messages WHERE conversation = ? AND idx >= 0 AND idx < ?"
            " ORDER BY idx",
            (conversation, 2**62 if count is None else count),
        )
        return base.contiguous((index, self.sealer.open(body)) for index, body in rows)

    async def count(self, conversation: str) -> int:
        rows = await self.db.query(
            "SELECT COALESCE(MAX(idx), -1) + 1 FROM messages WHERE conversation = ?",
            (conversation,),
        )
        return int(rows[0][0])

    async def truncate(self, conversation: str, count: int) -> None:
        await self.db.write(
            lambda db: db.execute(
                "DELETE FROM messages WHERE conversation = ? AND idx >= ?", (conversation, count)
            )
        )


class _Blobs(base.Blobs):
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def put(self, key: str, data: str) -> None:
        row = (key, self.sealer.seal(data))
        await self.db.write(
            lambda db: db.execute("INSERT OR REPLACE INTO blobs (key, data) VALUES (?, ?)", row)
        )

    async def get(self, key: str) -> str | None:
        rows = await self.db.query("SELECT data FROM blobs WHERE key = ?", (key,))
        return self.sealer.open(str(rows[0][0])) if rows else None

    async def put_new(self, key: str, data: str) -> str:
        row = (key, self.sealer.seal(data))

        def put(db: sqlite3.Connection) -> str:
            db.execute("INSERT OR IGNORE INTO blobs (key, data) VALUES (?, ?)", row)
            ((stored,),) = db.execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchall()
            return str(stored)

        return self.sealer.open(await self.db.write(put))


class _Tasks(base.TaskRecords):
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def save(self, state: TaskState) -> None:
        now = time.time()
        row = (
            state.task_id,
            state.session_id,
            state.status.value,
            self.sealer.seal(state.model_dump_json()),
            now,
            now,
        )
        await self.db.write(
            lambda db: db.execute(
                "INSERT INTO tasks (task_id, session_id, status, state, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (task_id) DO UPDATE SET session_id = excluded.session_id,"
                " status = excluded.status, state = excluded.state, updated = excluded.updated"
                f" WHERE tasks.status NOT IN ({base.ENDED})",
                row,
            )
        )

    async def get(self, task_id: str) -> TaskState | None:
        rows = await self.db.query("SELECT state FROM tasks WHERE task_id = ?", (task_id,))
        return self._state(rows[0][0]) if rows else None

    async def _page(self, page: base.TaskPage) -> list[TaskState]:
        condition, parameters = _task_filter(page.where)
        order = "updated DESC, task_id DESC" if page.recent_first else "created, task_id"
        rows = await self.db.query(
            f"SELECT state FROM tasks WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?",
            [*parameters, page.limit, page.offset],
        )
        return [self._state(state) for (state,) in rows]

    async def _count(self, where: base.TaskFilter) -> int:
        condition, parameters = _task_filter(where)
        rows = await self.db.query(f"SELECT COUNT(*) FROM tasks WHERE {condition}", parameters)
        return int(rows[0][0])

    def _state(self, stored: str) -> TaskState:
        return TaskState.model_validate_json(self.sealer.open(stored))


class _Sessions(base.Sessions):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self, session_id: str, task_id: str, *, replace: str | None = None
    ) -> str | None:
        def claim(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT active_task FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
            holder = row[0] if row else None
            if holder is not None and holder not in (task_id, replace):
                return str(holder)
            db.execute(
                "INSERT INTO sessions (session_id, active_task) VALUES (?, ?)"
                " ON CONFLICT (session_id) DO UPDATE SET active_task = excluded.active_task",
                (session_id, task_id),
            )
            return None

        return await self.db.write(claim)

    async def release(self, session_id: str, task_id: str, *, to: str | None = None) -> None:
        await self.db.write(
            lambda db: db.execute(
                "UPDATE sessions SET active_task = ? WHERE session_id = ? AND active_task = ?",
                (to, session_id, task_id),
            )
        )

    async def delete(self, session_id: str) -> int:
        def delete(db: sqlite3.Connection) -> int:
            condition = "task_id IN (SELECT task_id FROM tasks WHERE session_id = ?)"
            db.execute(f"DELETE FROM events WHERE {condition}", (session_id,))
            db.execute(
                "DELETE FROM blobs WHERE substr(key, 1, instr(key, '/') - 1) IN"
                " (SELECT task_id FROM tasks WHERE session_id = ?)",
                (session_id,),
            )
            ((count,),) = db.execute(
                "SELECT COUNT(*) FROM tasks WHERE session_id = ?", (session_id,)
            ).fetchall()
            db.execute("DELETE FROM tasks WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM messages WHERE conversation = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
            return int(count)

        return await self.db.write(delete)


class _Definitions(base.Definitions):
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def add(self, kind: str, name: str, data: dict[str, Any]) -> bool:
        row = (kind, name, self.sealer.seal(json.dumps(data)), time.time())
        added = await self.db.write(
            lambda db: (
                db.execute(
                    "INSERT OR IGNORE INTO definitions (kind, name, data, created)"
                    " VALUES (?, ?, ?, ?)",
                    row,
                ).rowcount
            )
        )
        return bool(added)

    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        rows = await self.db.query(
            "SELECT data FROM definitions WHERE kind = ? AND name = ?", (kind, name)
        )
        return dict(json.loads(self.sealer.open(rows[0][0]))) if rows else None

    async def every(self, kind: str) -> list[dict[str, Any]]:
        rows = await self.db.query(
            "SELECT data FROM definitions WHERE kind = ? ORDER BY created, name", (kind,)
        )
        return [json.loads(self.sealer.open(data)) for (data,) in rows]

    async def delete(self, kind: str, name: str) -> bool:
        deleted = await self.db.write(
            lambda db: (
                db.execute(
                    "DELETE FROM definitions WHERE kind = ? AND name = ?", (kind, name)
                ).rowcount
            )
        )
        return bool(deleted)


async def open_sqlite_store(
    path: str | Path,
    *,
    poll_interval: float = 0.25,
    busy_timeout: float = 10.0,
    sealer: Sealer | None = None,
) -> base.Store:
    """The store in the SQLite file at `path`, created with its directory if missing; opened
    now, so that a bad path fails at start-up. Followers see other processes' appends within
    milliseconds (the file's change counter is watched), `poll_interval` at the latest.
    `sealer` seals the content columns (`encryption/sealed.py`; default: none)."""
    db = await Database.open(Path(path), busy_timeout=busy_timeout)
    sealer = sealer or Sealer(None)
    events = _Events(db, sealer, poll_interval)

    def changed() -> None:
        if events.followed():
            events.spawn(events.another_process_appended)

    db.watch(changed, wanted=events.followed)
    return base.Store(
        kind="sqlite",
        where=str(db.path),
        events=events,
        transcripts=_Transcripts(db, sealer),
        blobs=_Blobs(db, sealer),
        tasks=_Tasks(db, sealer),
        sessions=_Sessions(db),
        limiter=SqliteLimiter(db),
        definitions=_Definitions(db, sealer),
        closer=db.close,
        sealed=SqliteColumns(db),
    )
