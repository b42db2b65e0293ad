"""The shared limiter in the SQLite file (`limits.py` has the rules), for the workers of one
host. Each operation is one transaction on the database's thread; a write transaction holds
the file's write lock from its start (`BEGIN IMMEDIATE`), so acquires from every process
take turns, each seeing every grant before it. Times are this host's clock."""

from __future__ import annotations

import sqlite3
import time

from . import base, limits
from .sqlite_db import Database

__all__ = ["SqliteLimiter"]


class SqliteLimiter(base.Limiter):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def acquire(self, ask: limits.Ask) -> limits.Refusal | None:
        def acquire(db: sqlite3.Connection) -> limits.Refusal | None:
            now = time.time()
            worst = limits.binding(
                [limits.refusal(s, _seen(db, s.name, ask.key, now), ask.tokens) for s in ask.specs]
            )
            for spec in ask.specs:
                if worst is not None:
                    db.execute(
                        "INSERT INTO limit_waiters (name, key, since, wake) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (name, key) DO UPDATE SET wake = excluded.wake",
                        (spec.name, ask.key, now, now + worst.wait),
                    )
                    continue
                db.execute(
                    "DELETE FROM limit_waiters WHERE name = ? AND key = ?", (spec.name, ask.key)
                )
                if spec.counts_calls:
                    db.execute(
                        "INSERT OR REPLACE INTO limit_calls"
                        " (name, lease, granted, expires, tokens) VALUES (?, ?, ?, ?, ?)",
                        (spec.name, ask.lease, now, now + ask.ttl, ask.tokens),
                    )
            return worst

        return await self.db.write(acquire)

    async def renew(self, lease: str, ttl: float) -> None:
        now = time.time()
        await self.db.write(
            lambda db: db.execute(
                # A lapsed lease stays lapsed: its place may be taken.
                "UPDATE limit_calls SET expires = ? WHERE lease = ? AND expires > ?",
                (now + ttl, lease, now),
            )
        )

    async def release(self, lease: str, tokens: int | None = None) -> None:
        def release(db: sqlite3.Connection) -> None:
            now = time.time()
            held = db.execute(
                "SELECT name, granted FROM limit_calls WHERE lease = ? AND expires > ?",
                (lease, now),
            ).fetchall()
            for name, granted in held:
                db.execute(
                    "INSERT INTO limit_state (name, average_hold) VALUES (?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET average_hold ="
                    " COALESCE(? * average_hold + ? * excluded.average_hold,"
                    " excluded.average_hold)",
                    (name, now - granted, 1 - limits.SMOOTHING, limits.SMOOTHING),
                )
            db.execute(
                "UPDATE limit_calls SET expires = MIN(expires, ?), tokens = COALESCE(?, tokens)"
                " WHERE lease = ?",
                (now, tokens, lease),
            )

        await self.db.write(release)

    async def block(self, name: str, seconds: float) -> None:
        until = time.time() + seconds
        await self.db.write(
            lambda db: db.execute(
                "INSERT INTO limit_state (name, blocked_until) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE"
                " SET blocked_until = MAX(blocked_until, excluded.blocked_until)",
                (name, until),
            )
        )

    async def waiting(self) -> dict[str, int]:
        rows = await self.db.query(
            "SELECT name, COUNT(*) FROM limit_waiters WHERE wake >= ? GROUP BY name",
            (time.time() - limits.GRACE,),
        )
        return {str(name): int(count) for name, count in rows}


def _seen(db: sqlite3.Connection, name: str, key: str, now: float) -> limits.Seen:
    """Limit `name` as waiter `key` sees it at `now`, after dropping the calls that left the
    window and the waiters that gave up."""
    start = now - limits.WINDOW
    db.execute(
        "DELETE FROM limit_calls WHERE name = ? AND expires <= ? AND granted <= ?",
        (name, now, start),
    )
    db.execute("DELETE FROM limit_waiters WHERE name = ? AND wake < ?", (name, now - limits.GRACE))
    in_flight, requests, tokens, oldest = db.execute(
        "SELECT COALESCE(SUM(expires > ?), 0), COALESCE(SUM(granted > ?), 0),"
        " COALESCE(SUM(CASE WHEN granted > ? THEN tokens END), 0),"
        " MIN(CASE WHEN granted > ? THEN granted END)"
        " FROM limit_calls WHERE name = ?",
        (now, start, start, start, name),
    ).fetchone()
    state = db.execute(
        "SELECT blocked_until, average_hold FROM limit_state WHERE name = ?", (name,)
    ).fetchone()
    mine = db.execute(
        "SELECT since FROM limit_waiters WHERE name = ? AND key = ?", (name, key)
    ).fetchone()
    ahead, due = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(wake <= ? AND wake > ?), 0) FROM limit_waiters"
        " WHERE name = ? AND key != ? AND (? IS NULL OR since < ?)",
        (now, now - limits.PRECEDENCE, name, key, mine and mine[0], mine and mine[0]),
    ).fetchone()
    return limits.Seen(
        now=now,
        in_flight=in_flight,
        requests=requests,
        tokens=tokens,
        oldest=oldest,
        blocked_until=state[0] if state else 0.0,
        average_hold=state[1] if state else None,
        ahead=ahead,
        due=due,
    )
