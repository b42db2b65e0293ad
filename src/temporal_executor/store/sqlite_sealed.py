"""`rekey`'s access to the SQLite store's sealed columns (`rekey.SealedColumns`): a table
walked in key order, values replaced only where they still hold what was read; the space the
old values took zeroed and the WAL emptied, so no clear text is left in the files."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from . import rekey
from .sqlite_db import Database

__all__ = ["SqliteColumns"]


class SqliteColumns(rekey.SealedColumns):
    """The sealed columns of the SQLite store, row by row (`rekey.py`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def scan(
        self, table: rekey.SealedTable, after: tuple[Any, ...] | None, limit: int
    ) -> list[rekey.Row]:
        key = ", ".join(table.key)
        where = f"({key}) > ({', '.join('?' for _ in after)})" if after else "1 = 1"
        rows = await self.db.query(
            f"SELECT {key}, {table.column} FROM {table.name} WHERE {where} ORDER BY {key} LIMIT ?",
            [*(after or ()), limit],
        )
        return [(tuple(row[:-1]), str(row[-1])) for row in rows]

    async def replace(self, table: rekey.SealedTable, rows: Sequence[tuple[rekey.Row, str]]) -> int:
        match = " AND ".join(f"{column} = ?" for column in table.key)
        sql = f"UPDATE {table.name} SET {table.column} = ? WHERE {match} AND {table.column} = ?"

        def replace(db: sqlite3.Connection) -> int:
            return sum(db.execute(sql, (new, *key, old)).rowcount for (key, old), new in rows)

        # Space an update frees is zeroed: no clear text left in the file's free space.
        await self.db.read(lambda db: db.execute("PRAGMA secure_delete = ON"))
        return await self.db.write(replace)

    async def finish(self) -> None:
        # The WAL still holds the pages as they were before: copy it back and empty it (when
        # no other process is reading an old snapshot, else at a later checkpoint).
        await self.db.read(lambda db: db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
