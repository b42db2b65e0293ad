"""The SQLite connection's queue: operations submitted from the event loop run in order on the
database's one thread, and a burst of them costs one hop, not one each.

Whatever is queued when the thread gets to it runs as one batch: reads as they come, and each
run of consecutive writes in one `BEGIN IMMEDIATE` transaction, every write in a savepoint of
its own (one that raises is rolled back alone; the others commit). Callers learn of their
results after the commit, all in one callback on their loop. Under load this turns a write
per token delta, per record and per limiter call into one transaction per batch: fewer
commits, fewer wake-ups of other processes' watchers, and no thread-pool handshake per
operation. An operation whose caller was cancelled before it started does not run; one that
started runs to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["OperationQueue"]

T = TypeVar("T")


@dataclass
class _Operation:
    function: Callable[[sqlite3.Connection], Any]
    write: bool
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


# An operation's future, with its result or its error.
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


class OperationQueue:
    """Operations on the connection `connection()` returns, run on `thread` (one thread)."""

    def __init__(
        self, thread: ThreadPoolExecutor, connection: Callable[[], sqlite3.Connection]
    ) -> None:
        self._thread = thread
        self._connection = connection
        self._pending: deque[_Operation] = deque()
        self._lock = threading.Lock()
        self._draining = False

    async def submit(self, function: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run `function(connection)` (in a write transaction when `write`); its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._pending.append(_Operation(function, write, future, loop))
            start = not self._draining
            self._draining = True
        if start:
            try:
                self._thread.submit(self._drain)
            except BaseException:
                with self._lock:
                    self._draining = False
                raise
        return await future

    def _drain(self) -> None:
        """On the database thread: run batches until nothing is queued."""
        while True:
            with self._lock:
                if not self._pending:
                    self._draining = False
                    return
                batch = list(self._pending)
                self._pending.clear()
            try:
                outcomes = self._run(batch)
            except BaseException as exc:  # never leave the queue without its drainer
                outcomes = [(op.future, None, exc) for op in batch]
            loops: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
            for operation, outcome in zip(batch, outcomes, strict=True):
                if outcome is not None:
                    loops.setdefault(operation.loop, []).append(outcome)
            for loop, done in loops.items():
                try:
                    loop.call_soon_threadsafe(_deliver, done)
                except RuntimeError:  # that loop is closed: nobody waits any more
                    pass

    def _run(self, batch: list[_Operation]) -> list[_Outcome | None]:
        """Each operation's outcome, in order (None: cancelled before it started)."""
        outcomes: list[_Outcome | None] = []
        try:
            db = self._connection()
        except BaseException as exc:
            return [(op.future, None, exc) for op in batch]
        i = 0
        while i < len(batch):
            if not batch[i].write:
                op = batch[i]
                outcomes.append(None if op.future.cancelled() else _call(op, db))
                i += 1
                continue
            writes = []
            while i < len(batch) and batch[i].write:
                writes.append(batch[i])
                i += 1
            live = [op for op in writes if not op.future.cancelled()]
            outcome = _transaction(db, live)
            done = {id(op): each for op, each in zip(live, outcome, strict=True)}
            outcomes += [done.get(id(op)) for op in writes]
        return outcomes


def _call(op: _Operation, db: sqlite3.Connection) -> _Outcome:
    try:
        return (op.future, op.function(db), None)
    except BaseException as exc:
        return (op.future, None, exc)


def _transaction(db: sqlite3.Connection, writes: list[_Operation]) -> list[_Outcome]:
    """The writes in one transaction, each in a savepoint of its own (alone: none needed)."""
    if not writes:
        return []
    try:
        db.execute("BEGIN IMMEDIATE")
    except BaseException as exc:
        return [(op.future, None, exc) for op in writes]
    outcomes: list[_Outcome] = []
    try:
        if len(writes) == 1:
            outcomes.append((writes[0].future, writes[0].function(db), None))
        else:
            for op in writes:
                db.execute("SAVEPOINT operation")
                try:
                    result = op.function(db)
                except BaseException as exc:
                    db.execute("ROLLBACK TO operation")
                    db.execute("RELEASE operation")
                    outcomes.append((op.future, None, exc))
                else:
                    db.execute("RELEASE operation")
                    outcomes.append((op.future, result, None))
        db.commit()
    except BaseException as exc:
        # The one write raised, a savepoint could not be undone, or the commit failed:
        # nothing of the batch is kept, and every write of it learns why.
        with contextlib.suppress(sqlite3.Error):
            db.rollback()
        return [(op.future, None, exc) for op in writes]
    return outcomes


def _deliver(outcomes: list[_Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():  # its caller was cancelled meanwhile
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
