"""`temporal-executor rekey`: every sealed content column of the store brought to the newest
key (`encryption/sealed.py`) — or sealed, for values written before encryption was turned
on; or opened, when it has been turned off and the keys are still given.

It runs beside the service (online): it walks each table in key order, a batch at a time,
and rewrites a value only if it still holds what was read (a compare-and-swap), so a write
made meanwhile is never overwritten. Values already as they should be are read and left
alone, so running it again is harmless, and an interrupted run is resumed by running it
again. A value another process rewrote meanwhile (`raced`) is one that process sealed: with
its own newest key, which is this one's when every process has the new key ring.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..encryption import Sealer

__all__ = ["SEALED_TABLES", "RekeyReport", "Row", "SealedColumns", "SealedTable", "rekey"]


@dataclass(frozen=True)
class SealedTable:
    """A table with a sealed content column: its name, its primary key's columns, and the
    column."""

    name: str
    key: tuple[str, ...]
    column: str


SEALED_TABLES = (
    SealedTable("events", ("task_id", "seq"), "data"),
    SealedTable("messages", ("conversation", "idx"), "body"),
    SealedTable("tasks", ("task_id",), "state"),
    SealedTable("blobs", ("key",), "data"),
    SealedTable("definitions", ("kind", "name"), "data"),
)

Row = tuple[tuple[Any, ...], str]  # a row's primary key, and its column's value


class SealedColumns(ABC):
    """A backend's access to its sealed columns, row by row, for `rekey`."""

    @abstractmethod
    async def scan(
        self, table: SealedTable, after: tuple[Any, ...] | None, limit: int
    ) -> list[Row]:
        """Up to `limit` rows after the key `after` (from the first when None), in key
        order."""

    @abstractmethod
    async def replace(self, table: SealedTable, rows: Sequence[tuple[Row, str]]) -> int:
        """For each `((key, old), new)`: set the column to `new` where the row still holds
        `old`, in one transaction; how many rows changed. What the old values took is not
        left readable in the backend's files, where it can see to that."""

    async def finish(self) -> None:  # noqa: B027 - most backends have nothing to do
        """After a run: let go of what the backend still keeps of the old values."""


@dataclass
class RekeyReport:
    """What a run did, by table: rows read, rows rewritten, rows changed by another process
    while this one worked on them."""

    read: dict[str, int] = field(default_factory=dict)
    rewritten: dict[str, int] = field(default_factory=dict)
    raced: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [
            f"{name}: {self.read[name]} read, {self.rewritten[name]} re-encrypted"
            + (f", {self.raced[name]} changed meanwhile (run again)" if self.raced[name] else "")
            for name in self.read
        ]


async def rekey(
    columns: SealedColumns,
    sealer: Sealer,
    *,
    batch: int = 500,
    progress: Callable[[str, int], None] | None = None,
) -> RekeyReport:
    """Bring every sealed column to what `sealer` writes now (see the module docstring)."""
    report = RekeyReport()
    for table in SEALED_TABLES:
        read = rewritten = raced = 0
        after: tuple[Any, ...] | None = None
        while rows := await columns.scan(table, after, batch):
            stale = [
                (row, sealer.seal(sealer.open(row[1])))
                for row in rows
                if not sealer.is_current(row[1])
            ]
            changed = await columns.replace(table, stale) if stale else 0
            read += len(rows)
            rewritten += changed
            raced += len(stale) - changed
            after = rows[-1][0]
            if progress is not None:
                progress(table.name, read)
        report.read[table.name] = read
        report.rewritten[table.name] = rewritten
        report.raced[table.name] = raced
    await columns.finish()
    return report
