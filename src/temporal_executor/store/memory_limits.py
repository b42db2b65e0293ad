"""The shared limiter in this process's memory (`limits.py` has the rules): shared by the
workers of one process only, for tests and single-process development. No method awaits
while it changes anything, so on one event loop each one is atomic."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import base, limits

__all__ = ["MemoryLimiter"]


@dataclass
class _Call:
    granted: float
    expires: float
    tokens: int


@dataclass
class _Limit:
    calls: dict[str, _Call] = field(default_factory=dict)  # by lease
    waiters: dict[str, tuple[float, float]] = field(default_factory=dict)  # key: since, wake
    blocked_until: float = 0.0
    average_hold: float | None = None


class MemoryLimiter(base.Limiter):
    def __init__(self) -> None:
        self._limits: dict[str, _Limit] = {}

    def _limit(self, name: str, now: float) -> _Limit:
        """The limit, without the calls that left the window and the waiters that gave up."""
        limit = self._limits.setdefault(name, _Limit())
        for lease in [k for k, c in limit.calls.items() if _gone(c, now)]:
            del limit.calls[lease]
        for key in [k for k, (_, wake) in limit.waiters.items() if wake < now - limits.GRACE]:
            del limit.waiters[key]
        return limit

    async def acquire(self, ask: limits.Ask) -> limits.Refusal | None:
        now = time.time()
        refusals = []
        for spec in ask.specs:
            limit = self._limit(spec.name, now)
            mine = limit.waiters.get(ask.key)
            ahead = [w for k, w in limit.waiters.items() if k != ask.key and _before(w, mine)]
            window = [c for c in limit.calls.values() if c.granted > now - limits.WINDOW]
            seen = limits.Seen(
                now=now,
                in_flight=sum(1 for c in limit.calls.values() if c.expires > now),
                requests=len(window),
                tokens=sum(c.tokens for c in window),
                oldest=min((c.granted for c in window), default=None),
                blocked_until=limit.blocked_until,
                average_hold=limit.average_hold,
                ahead=len(ahead),
                due=sum(1 for _, wake in ahead if now - limits.PRECEDENCE < wake <= now),
            )
            refusals.append(limits.refusal(spec, seen, ask.tokens))
        worst = limits.binding(refusals)
        for spec in ask.specs:
            limit = self._limits[spec.name]
            if worst is not None:
                since = limit.waiters.get(ask.key, (now, now))[0]
                limit.waiters[ask.key] = (since, now + worst.wait)
                continue
            limit.waiters.pop(ask.key, None)
            if spec.counts_calls:
                limit.calls[ask.lease] = _Call(now, now + ask.ttl, ask.tokens)
        return worst

    async def renew(self, lease: str, ttl: float) -> None:
        now = time.time()
        for call in self._calls(lease):
            if call.expires > now:  # a lapsed lease stays lapsed: its place may be taken
                call.expires = now + ttl

    async def release(self, lease: str, tokens: int | None = None) -> None:
        now = time.time()
        for limit in self._limits.values():
            call = limit.calls.get(lease)
            if call is None:
                continue
            if tokens is not None:
                call.tokens = tokens
            if call.expires > now:
                limit.average_hold = limits.average_hold(limit.average_hold, now - call.granted)
                call.expires = now

    async def block(self, name: str, seconds: float) -> None:
        limit = self._limits.setdefault(name, _Limit())
        limit.blocked_until = max(limit.blocked_until, time.time() + seconds)

    async def waiting(self) -> dict[str, int]:
        now = time.time()
        counts = {name: len(self._limit(name, now).waiters) for name in list(self._limits)}
        return {name: count for name, count in counts.items() if count}

    def _calls(self, lease: str) -> list[_Call]:
        return [limit.calls[lease] for limit in self._limits.values() if lease in limit.calls]


def _gone(call: _Call, now: float) -> bool:
    """Whether a call neither is in flight nor counts in the window any more."""
    return call.expires <= now and call.granted <= now - limits.WINDOW


def _before(waiter: tuple[float, float], mine: tuple[float, float] | None) -> bool:
    """Whether `waiter` is queued before the asker (all are, before a newcomer)."""
    return mine is None or waiter[0] < mine[0]
