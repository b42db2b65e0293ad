"""The shared limiter in PostgreSQL (`limits.py` has the rules), for the workers of every host.

An acquire runs in one transaction that first takes a transaction-scoped advisory lock on
each of its limits (in name order, so two acquires never wait for each other in a circle):
acquires under one limit take turns, each one's reads seeing every grant committed before
it. Times are the database server's clock (`clock_timestamp()`), the one clock all hosts
share, so a host whose clock is off neither over- nor under-counts the window.
"""

from __future__ import annotations

from typing import Any

from . import base, limits
from .postgres_db import LIMIT_LOCK_SPACE, Database

__all__ = ["PostgresLimiter"]

_NOW = "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8"


class PostgresLimiter(base.Limiter):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def acquire(self, ask: limits.Ask) -> limits.Refusal | None:
        names = sorted({spec.name for spec in ask.specs})
        async with self.db.transaction() as db:
            # The locks in name order, then the time: one round trip.
            now = float(
                await db.fetchval(
                    "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8 FROM"
                    " (SELECT COUNT(pg_advisory_xact_lock($1, hashtext(n)))"
                    " FROM unnest($2::text[]) WITH ORDINALITY AS l (n, i)) AS locked",
                    LIMIT_LOCK_SPACE,
                    names,
                )
            )
            worst = limits.binding(
                [
                    limits.refusal(spec, await _seen(db, spec.name, ask.key, now), ask.tokens)
                    for spec in ask.specs
                ]
            )
            if worst is not None:
                await db.execute(
                    "INSERT INTO te_limit_waiters (name, key, since, wake)"
                    " SELECT n, $2, $3, $4 FROM unnest($1::text[]) AS n"
                    " ON CONFLICT (name, key) DO UPDATE SET wake = excluded.wake",
                    names,
                    ask.key,
                    now,
                    now + worst.wait,
                )
                return worst
            counted = [spec.name for spec in ask.specs if spec.counts_calls]
            await db.execute(
                "WITH served AS (DELETE FROM te_limit_waiters"
                " WHERE name = ANY($1::text[]) AND key = $2)"
                " INSERT INTO te_limit_calls (name, lease, granted, expires, tokens)"
                " SELECT n, $4, $5, $6, $7 FROM unnest($3::text[]) AS n"
                " ON CONFLICT (name, lease) DO UPDATE SET granted = excluded.granted,"
                " expires = excluded.expires, tokens = excluded.tokens",
                names,
                ask.key,
                counted,
                ask.lease,
                now,
                now + ask.ttl,
                ask.tokens,
            )
        return None

    async def renew(self, lease: str, ttl: float) -> None:
        # A lapsed lease stays lapsed: its place may be taken.
        await self.db.execute(
            f"UPDATE te_limit_calls SET expires = now.t + $2 FROM ({_NOW} AS t) AS now"
            " WHERE lease = $1 AND expires > now.t",
            lease,
            ttl,
        )

    async def release(self, lease: str, tokens: int | None = None) -> None:
        async with self.db.transaction() as db:
            now = float(await db.fetchval(_NOW))
            held = await db.fetch(
                "SELECT name, granted FROM te_limit_calls WHERE lease = $1 AND expires > $2",
                lease,
                now,
            )
            for row in held:
                await db.execute(
                    "INSERT INTO te_limit_state AS s (name, average_hold) VALUES ($1, $2)"
                    " ON CONFLICT (name) DO UPDATE SET average_hold ="
                    " COALESCE($3 * s.average_hold + $4 * excluded.average_hold,"
                    " excluded.average_hold)",
                    row["name"],
                    now - row["granted"],
                    1 - limits.SMOOTHING,
                    limits.SMOOTHING,
                )
            await db.execute(
                "UPDATE te_limit_calls SET expires = LEAST(expires, $2),"
                " tokens = COALESCE($3, tokens) WHERE lease = $1",
                lease,
                now,
                tokens,
            )

    async def block(self, name: str, seconds: float) -> None:
        await self.db.execute(
            "INSERT INTO te_limit_state AS s (name, blocked_until)"
            f" SELECT $1, t + $2 FROM ({_NOW} AS t) AS now"
            " ON CONFLICT (name) DO UPDATE"
            " SET blocked_until = GREATEST(s.blocked_until, excluded.blocked_until)",
            name,
            seconds,
        )

    async def waiting(self) -> dict[str, int]:
        rows = await self.db.fetch(
            f"SELECT name, COUNT(*) AS n FROM te_limit_waiters, ({_NOW} AS t) AS now"
            " WHERE wake >= now.t - $1 GROUP BY name",
            limits.GRACE,
        )
        return {row["name"]: int(row["n"]) for row in rows}


async def _seen(db: Any, name: str, key: str, now: float) -> limits.Seen:
    """Limit `name` as waiter `key` sees it at `now`, in one statement that also drops the
    calls that left the window and the waiters that gave up (which its reads leave out)."""
    row = await db.fetchrow(
        "WITH gone AS (DELETE FROM te_limit_calls"
        "   WHERE name = $1 AND expires <= $3 AND granted <= $3 - $4),"
        " given_up AS (DELETE FROM te_limit_waiters WHERE name = $1 AND wake < $3 - $5),"
        " mine AS (SELECT since FROM te_limit_waiters WHERE name = $1 AND key = $2)"
        " SELECT c.*, s.blocked_until, s.average_hold, w.* FROM"
        " (SELECT COUNT(*) FILTER (WHERE expires > $3) AS in_flight,"
        "   COUNT(*) FILTER (WHERE granted > $3 - $4) AS requests,"
        "   COALESCE(SUM(tokens) FILTER (WHERE granted > $3 - $4), 0) AS tokens,"
        "   MIN(granted) FILTER (WHERE granted > $3 - $4) AS oldest"
        "   FROM te_limit_calls WHERE name = $1) AS c"
        " CROSS JOIN (SELECT COUNT(*) AS ahead,"
        "   COUNT(*) FILTER (WHERE wake <= $3 AND wake > $3 - $6) AS due"
        "   FROM te_limit_waiters WHERE name = $1 AND key <> $2 AND wake >= $3 - $5"
        "   AND (NOT EXISTS (SELECT 1 FROM mine) OR since < (SELECT since FROM mine))) AS w"
        " LEFT JOIN te_limit_state AS s ON s.name = $1",
        name,
        key,
        now,
        limits.WINDOW,
        limits.GRACE,
        limits.PRECEDENCE,
    )
    return limits.Seen(
        now=now,
        in_flight=row["in_flight"],
        requests=row["requests"],
        tokens=int(row["tokens"]),
        oldest=row["oldest"],
        blocked_until=row["blocked_until"] or 0.0,
        average_hold=row["average_hold"],
        ahead=row["ahead"],
        due=row["due"],
    )
