"""Following a task's event log live: `FollowedLog`, what `EventLog` builds on.

Followers (`EventLog.follow`) are woken at once by appends through the same instance (the API
and an in-process worker share one in `dev`), by the backend when another process appended
(PostgreSQL NOTIFY, SQLite's change counter), and otherwise poll every `poll_interval`.
`stop_following()` ends them all (an API that shuts down: its clients resume elsewhere).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from itertools import pairwise

from ..tasks import Event

__all__ = ["FollowedLog"]


class _Follower:
    """One `follow`: the seq it yielded last, and events this process appended since."""

    def __init__(self, seen: int) -> None:
        self.seen = seen
        self.fresh: list[Event] = []

    def upto(self) -> int:
        """The last seq it has read or been handed."""
        return self.fresh[-1].seq if self.fresh else self.seen

    def hand(self, events: Sequence[Event]) -> None:
        """Hand it events (in seq order) it has not been handed yet."""
        upto = self.upto()
        self.fresh += [event for event in events if event.seq > upto]

    def handed(self, after: int) -> list[Event]:
        """The appended events that follow on from `after` (none when there is a gap)."""
        fresh = [event for event in self.fresh if event.seq > after]
        self.fresh = []
        if (
            fresh
            and fresh[0].seq == after + 1
            and all(b.seq == a.seq + 1 for a, b in pairwise(fresh))
        ):
            return fresh
        return []


class FollowedLog(ABC):
    """Each task's event log, read and followed: `read` is the backend's; `wake` is called
    when something was appended (by this process, with what it appended, or by another)."""

    def __init__(self, *, poll_interval: float = 0.25) -> None:
        self.poll_interval = poll_interval
        self._waiters: dict[str, asyncio.Event] = {}
        # Each task's followers, by identity.
        self._positions: dict[str, dict[int, _Follower]] = {}
        self._pending: asyncio.Future[None] | None = None
        self._again = False
        self._stopped = False

    @abstractmethod
    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        """Events with `seq > after`, in order, at most `limit`."""

    async def follow(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """Yield the task's events after `after`, as they are appended, until
        `stop_following()`. Events this process appends are handed over as they are (no
        read), when they follow on from the last one yielded; anything else is read from the
        store."""
        me = _Follower(after)
        first = not self._positions
        followers = self._positions.setdefault(task_id, {})
        followers[id(me)] = me
        if first:
            self.following_started()
        try:
            while not self._stopped:
                waiter = self._waiters.setdefault(task_id, asyncio.Event())
                events = me.handed(after) or await self.read(task_id, after)
                for event in events:
                    yield event
                    after = me.seen = event.seq
                if not events:
                    # A timer, not `wait_for` (a task of its own each wait, many a second).
                    poll = asyncio.get_running_loop().call_later(
                        self.poll_interval, self._poll, task_id, waiter
                    )
                    try:
                        await waiter.wait()
                    finally:
                        poll.cancel()
        finally:
            del followers[id(me)]
            if not followers:
                del self._positions[task_id]
                self._waiters.pop(task_id, None)

    def _poll(self, task_id: str, waiter: asyncio.Event) -> None:
        """A follower's poll interval is up: it (and any sharing its waiter) reads again."""
        if self._waiters.get(task_id) is waiter:
            del self._waiters[task_id]
        waiter.set()

    def stop_following(self) -> None:
        """End every `follow`, now and from now on, after the events it has read."""
        self._stopped = True
        self.wake_all()

    def following_started(self) -> None:
        """A first task is followed now, after none was (a backend that watches for other
        processes' appends more closely while someone follows starts doing so)."""
        return None

    def followed(self) -> bool:
        """Whether any task is followed (safe to ask from another thread)."""
        return bool(self._positions)

    def heads(self) -> dict[str, int]:
        """The tasks being followed, each with the lowest seq up to which its followers have
        read, or been handed, its events (what a backend reads for them starts after it)."""
        return {
            task: min(f.upto() for f in followers.values())
            for task, followers in self._positions.items()
            if followers
        }

    def spawn(self, check: Callable[[], Awaitable[None]]) -> None:
        """Run a backend's `check()` for new events in the background, one at a time; one
        asked for while another runs runs again after it (its query may have come too early)."""
        if self._pending is not None and not self._pending.done():
            self._again = True
            return

        async def run() -> None:
            self._again = True
            while self._again:
                self._again = False
                await check()

        self._pending = asyncio.ensure_future(run())

    def wake(self, task_id: str, appended: Sequence[Event] = ()) -> None:
        """Let the task's followers read again (something was appended: `appended`, when
        this process appended it)."""
        for follower in self._positions.get(task_id, {}).values():
            follower.hand(appended)
        waiter = self._waiters.pop(task_id, None)
        if waiter is not None:
            waiter.set()

    def wake_all(self) -> None:
        """Let every follower read again (another process appended, to some task)."""
        for task_id in list(self._waiters):
            self.wake(task_id)
