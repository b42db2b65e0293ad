"""The rules of the shared limiter (`Limiter` in `base.py`), pure: whether a call may start
now under each limit it falls under, and if not, when to try again. Each backend reads what
`Seen` needs in one transaction holding the limits' locks, asks `refusal`, and writes.

What the store keeps for a limit:
- *calls*: one row per call granted under it (`granted` time, `expires`, `tokens`). A call is
  *in flight* while it has not expired: a lease, renewed by the activity that holds it
  (`renew`), ended by `release`; a worker that dies stops renewing, so its leases lapse
  after the lease time (`executor.timeouts.heartbeat`). A call counts against
  `requests_per_minute` and (with its tokens: estimated when granted, the provider's count
  once answered) `tokens_per_minute` for `WINDOW` seconds after it was granted: a sliding
  window, which keeps within a provider's limit however that provider counts its minute.
- *blocked until*: a provider's 429 with `Retry-After` blocks the limit for every worker.
- *waiters*: calls refused, each with the time it first was (`since`) and when it comes back
  (`wake`). A waiter whose time has come takes precedence over younger ones and newcomers
  for `PRECEDENCE` seconds (a place is kept for it that long, not longer: a timer that fires
  late must not leave places idle), so waiting calls go roughly first come, first served;
  one that has not come back `GRACE` seconds after its time gave up (its task ended) and is
  dropped. The wait given to a refused call spreads the waiters over the time the limit
  needs to serve those before them, so they do not all come back at once.
- the average time a call is in flight: how soon a place frees under `concurrency`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_HOLD",
    "GRACE",
    "MAX_WAIT",
    "MIN_WAIT",
    "PRECEDENCE",
    "SMOOTHING",
    "WINDOW",
    "Ask",
    "LimitSpec",
    "Refusal",
    "Seen",
    "average_hold",
    "binding",
    "refusal",
]

WINDOW = 60.0  # seconds: what "per minute" means
GRACE = 5.0  # seconds a waiter may come back late and keep its place in the queue
PRECEDENCE = 1.0  # seconds after its time a waiter's place is kept free for it
MIN_WAIT = 0.2  # seconds: the shortest wait, so that refused calls do not spin
MAX_WAIT = WINDOW  # a refused call looks again at least this often (unless blocked longer)
DEFAULT_HOLD = 1.0  # seconds a call is taken to be in flight before any has been released
SMOOTHING = 0.2  # weight of the last call in the average time in flight


@dataclass(frozen=True)
class LimitSpec:
    """One limit as config gives it; `name` is how the store, events and metrics name it
    (`llm:openai`, `llm:openai/gpt-4o`, `tool:get_weather`, `mcp:github`). A limit with no
    bound only shares 429s."""

    name: str
    concurrency: int | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: int | None = None

    @property
    def counts_calls(self) -> bool:
        """Whether granted calls are kept (for a bound); if not, only blocks apply."""
        bounds = (self.concurrency, self.requests_per_minute, self.tokens_per_minute)
        return any(bound is not None for bound in bounds)


@dataclass(frozen=True)
class Ask:
    """A call that wants to start: under `specs`, as waiter `key` (the task and its call),
    with lease id `lease` if granted, about `tokens` tokens, its lease for `ttl` seconds."""

    specs: tuple[LimitSpec, ...]
    key: str
    lease: str
    tokens: int = 0
    ttl: float = 30.0


@dataclass(frozen=True)
class Seen:
    """One limit as the store has it at `now`, for the waiter asking: calls in flight,
    requests and tokens in the window (and when the oldest of them was granted), blocked
    until, the average time in flight, and the live waiters queued before the asker
    (`ahead`; `due`: those of them whose time came in the last `PRECEDENCE` seconds)."""

    now: float
    in_flight: int = 0
    requests: int = 0
    tokens: int = 0
    oldest: float | None = None
    blocked_until: float = 0.0
    average_hold: float | None = None
    ahead: int = 0
    due: int = 0


@dataclass(frozen=True)
class Refusal:
    """No capacity under `limit` for `reason` (`rate_limited`: blocked after a 429;
    `concurrency`, `requests_per_minute`, `tokens_per_minute`): try again in `wait` s."""

    limit: str
    reason: str
    wait: float


def refusal(spec: LimitSpec, seen: Seen, tokens: int) -> Refusal | None:
    """Why a call of `tokens` may not start now under `spec`, or None when it may. Waiters
    whose time has come are served first: the call fits only beside them."""
    now, found = seen.now, []
    if seen.blocked_until > now:
        found.append(Refusal(spec.name, "rate_limited", seen.blocked_until - now))
    if spec.concurrency is not None and seen.in_flight + seen.due >= spec.concurrency:
        per = (seen.average_hold or DEFAULT_HOLD) / spec.concurrency
        found.append(Refusal(spec.name, "concurrency", per * (seen.ahead + 1)))
    rpm = spec.requests_per_minute
    if rpm is not None and seen.requests + seen.due >= rpm:
        per = WINDOW / rpm
        found.append(Refusal(spec.name, "requests_per_minute", _frees(seen) + per * seen.ahead))
    tpm = spec.tokens_per_minute
    # A call bigger than the whole budget goes alone, into an empty window.
    if tpm is not None and seen.tokens and seen.tokens + tokens * (seen.due + 1) > tpm:
        per = WINDOW * max(tokens, 1) / tpm
        found.append(Refusal(spec.name, "tokens_per_minute", _frees(seen) + per * seen.ahead))
    if not found:
        return None
    worst = max(found, key=lambda r: r.wait)
    cap = worst.wait if worst.reason == "rate_limited" else min(worst.wait, MAX_WAIT)
    return Refusal(worst.limit, worst.reason, max(cap, MIN_WAIT))


def binding(refusals: list[Refusal | None]) -> Refusal | None:
    """The refusal a call waits for: the longest (None: every limit lets it start)."""
    found = [r for r in refusals if r is not None]
    return max(found, key=lambda r: r.wait) if found else None


def _frees(seen: Seen) -> float:
    """Seconds until the oldest call in the window leaves it."""
    if seen.oldest is None:
        return 0.0
    return max(seen.oldest + WINDOW - seen.now, 0.0)


def average_hold(previous: float | None, held: float) -> float:
    """The average time in flight after a call held `held` seconds."""
    if previous is None:
        return held
    return (1 - SMOOTHING) * previous + SMOOTHING * held
