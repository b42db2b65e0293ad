"""`rekey`'s access to the PostgreSQL store's sealed columns (`rekey.SealedColumns`): a table
walked in key order, values replaced only where they still hold what was read; and how a
blob's text is kept (BYTEA)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import rekey
from .postgres_db import Database

__all__ = ["PostgresColumns", "from_bytea", "to_bytea"]


def to_bytea(text: str) -> bytes:
    # BYTEA, because a TEXT column refuses strings that contain NUL.
    return text.encode("utf-8", "surrogatepass")


def from_bytea(blob: Any) -> str:
    return bytes(blob).decode("utf-8", "surrogatepass")


class PostgresColumns(rekey.SealedColumns):
    """The sealed columns of the PostgreSQL store, row by row (`rekey.py`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def scan(
        self, table: rekey.SealedTable, after: tuple[Any, ...] | None, limit: int
    ) -> list[rekey.Row]:
        key = ", ".join(table.key)
        marks = ", ".join(f"${i}" for i in range(2, len(table.key) + 2))
        where = f"({key}) > ({marks})" if after else "TRUE"
        rows = await self.db.fetch(
            f"SELECT {key}, {table.column} FROM te_{table.name} WHERE {where}"
            f" ORDER BY {key} LIMIT $1",
            limit,
            *(after or ()),
        )
        blobs = table.name == "blobs"
        return [(tuple(row)[:-1], from_bytea(row[-1]) if blobs else row[-1]) for row in rows]

    async def replace(self, table: rekey.SealedTable, rows: Sequence[tuple[rekey.Row, str]]) -> int:
        match = " AND ".join(f"{column} = ${i}" for i, column in enumerate(table.key, 3))
        sql = (
            f"UPDATE te_{table.name} SET {table.column} = $1 WHERE {match} AND {table.column} = $2"
        )
        to_column: Callable[[str], str | bytes] = to_bytea if table.name == "blobs" else str
        changed = 0
        async with self.db.transaction() as db:
            for (key, old), new in rows:
                status = await db.execute(sql, to_column(new), to_column(old), *key)
                changed += int(status.split()[-1])  # "UPDATE <count>"
        return changed
