"""What an LLM or tool call does about the limits it falls under (`config/limits.py`), shared
with every worker through the store's limiter (`store/limits.py`).

Before it calls, the activity asks for a place (`Gate.acquire`). Granted, it holds a lease
while it calls, renewed every third of the lease time (`executor.timeouts.heartbeat`) and
released when the call ends, with the tokens the provider counted. Refused, the activity
returns at once a result whose `wait` says which limit and for how long: not an error, so no
retry is spent, and no worker slot is held while the workflow waits on a durable timer
(`workflows/calls.py`). A task that started before there were waits (`may_wait` unset) gets
a retryable error with that delay instead, as it would have for a 429.

A provider's 429 blocks the limit a 429 concerns (the model's, when it has limits of its
own, else the provider's) for every worker until `Retry-After` passes (`Gate.rate_limited`);
the call that got it waits like the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from ..config import Config
from ..config.limits import LLMLimit, RequestLimit
from ..errors import CapacityError, to_failure
from ..llm.messages import LLMRequest
from ..observability.series import CAPACITY_WAITS
from ..spec import ModelChoice, ToolSpec
from ..store import Ask, LimitSpec, Refusal
from ..store.base import Limiter
from ..versioned import Payload

__all__ = [
    "Capacity",
    "CapacityWait",
    "Gate",
    "Lease",
    "MayWait",
    "WaitsForCapacity",
    "estimated_tokens",
    "waiting",
]

logger = logging.getLogger(__name__)

# Seconds a 429 without Retry-After blocks its limit.
DEFAULT_BLOCK = 1.0


class CapacityWait(Payload):
    """No capacity under `limit` (for `reason`): the call was not made; the workflow tries
    again in `retry_after` seconds."""

    limit: str
    reason: str
    retry_after: float


class WaitsForCapacity(Payload):
    """An activity input whose workflow waits for capacity: `may_wait` (unset for a task
    that started before waits existed, whose calls then fail retryably instead)."""

    may_wait: bool = False


class MayWait(Payload):
    """An activity result that may say "no capacity yet": `wait` (None: the call was made)."""

    wait: CapacityWait | None = None


def waiting(wait: CapacityWait, may_wait: bool) -> CapacityWait:
    """`wait`, for a call that may wait; for one that may not, the retryable failure."""
    if not may_wait:
        message = f"no capacity under {wait.limit} ({wait.reason})"
        raise to_failure(CapacityError(message, retry_after=wait.retry_after))
    return wait


def estimated_tokens(request: LLMRequest) -> int:
    """What a call will count against tokens per minute, as providers estimate it before
    answering: about four characters a token of what is sent, plus `max_tokens`."""
    sent = sum(len(m.content or "") + len(str([c.arguments for c in m.tool_calls]))
               for m in request.messages)  # fmt: skip
    sent += sum(len(t.description) + len(str(t.parameters)) for t in request.tools)
    return sent // 4 + (request.sampling.max_tokens or 0)


class Lease:
    """A place under a call's limits while it calls (`async with`): renewed while the block
    runs, released when it ends with the tokens `used` reports. A call under no limit that
    counts calls holds an empty one."""

    def __init__(self, limiter: Limiter | None, lease: str, ttl: float) -> None:
        self._limiter, self.lease, self._ttl = limiter, lease, ttl
        self._tokens: int | None = None
        self._renewing: asyncio.Task[None] | None = None

    def used(self, tokens: int) -> None:
        """The tokens the call used (counted instead of the estimate)."""
        self._tokens = tokens

    async def __aenter__(self) -> Self:
        if self._limiter is not None:
            self._renewing = asyncio.create_task(self._renew(self._limiter))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._limiter is None or self._renewing is None:
            return
        self._renewing.cancel()
        try:
            # Shielded: a cancelled call still gives its place back.
            await asyncio.shield(self._limiter.release(self.lease, self._tokens))
        except Exception as error:  # the lease lapses on its own
            logger.warning("could not release lease %s: %s", self.lease, error)

    async def _renew(self, limiter: Limiter) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            with contextlib.suppress(Exception):  # tried again at the next beat
                await limiter.renew(self.lease, self._ttl)


class Gate:
    """The limits one call falls under (`specs`, empty: none), and the one its provider's 429
    blocks (`blocks`; None: a 429 is retried as any error)."""

    def __init__(
        self, limiter: Limiter, specs: tuple[LimitSpec, ...], blocks: str | None, ttl: float
    ) -> None:
        self.limiter, self.specs, self.blocks, self.ttl = limiter, specs, blocks, ttl

    async def acquire(self, key: str, tokens: int = 0) -> Lease | CapacityWait:
        """A lease for call `key` (the task's call), or how long to wait for one."""
        lease = f"{key}/{uuid.uuid4().hex[:12]}"
        if not self.specs:
            return Lease(None, lease, self.ttl)
        ask = Ask(specs=self.specs, key=key, lease=lease, tokens=tokens, ttl=self.ttl)
        refused = await self.limiter.acquire(ask)
        if refused is not None:
            return _counted(refused)
        counts = any(spec.counts_calls for spec in self.specs)
        return Lease(self.limiter if counts else None, lease, self.ttl)

    async def rate_limited(self, retry_after: float | None) -> CapacityWait | None:
        """After a 429: block the limit for everyone until `retry_after` passes; how long
        the call waits (None: no limit shares this provider's 429s)."""
        if self.blocks is None:
            return None
        seconds = retry_after if retry_after else DEFAULT_BLOCK
        await self.limiter.block(self.blocks, seconds)
        return _counted(Refusal(self.blocks, "rate_limited", seconds))


def _counted(refused: Refusal) -> CapacityWait:
    CAPACITY_WAITS.labels(refused.limit, refused.reason).inc()
    return CapacityWait(limit=refused.limit, reason=refused.reason, retry_after=refused.wait)


class Capacity:
    """This deployment's limits (`llm.providers[].limits`, `tools.limits`) on the store's
    limiter; a lease lives as long as a heartbeat may be late (`executor.timeouts.heartbeat`)
    unless renewed, so a dead worker's places free within that."""

    def __init__(self, config: Config, limiter: Limiter) -> None:
        self.limiter, self.ttl = limiter, config.executor.timeouts.heartbeat
        providers = config.llm.providers
        self._providers = {p.name: p.limits for p in providers if p.limits is not None}
        self._tools = _specs("tool", config.tools.limits.tools)
        self._servers = _specs("mcp", config.tools.limits.mcp_servers)

    def llm(self, model: ModelChoice) -> Gate:
        """The gate of a call to `model`."""
        limits = self._providers.get(model.provider)
        if limits is None:
            return Gate(self.limiter, (), None, self.ttl)
        specs = [_spec(f"llm:{model.provider}", limits)]
        if (of_model := limits.models.get(model.model)) is not None:
            specs.append(_spec(f"llm:{model.key}", of_model))
        return Gate(self.limiter, tuple(specs), specs[-1].name, self.ttl)

    def tool(self, spec: ToolSpec) -> Gate:
        """The gate of a call of the tool `spec` (and of its MCP server's)."""
        specs = [s for s in (self._tools.get(spec.name),) if s is not None]
        server = spec.config.get("server") if spec.type == "mcp" else None
        if isinstance(server, str) and server in self._servers:
            specs.append(self._servers[server])
        return Gate(self.limiter, tuple(specs), None, self.ttl)


def _spec(name: str, limit: RequestLimit) -> LimitSpec:
    tokens = limit.tokens_per_minute if isinstance(limit, LLMLimit) else None
    return LimitSpec(name, limit.concurrency, limit.requests_per_minute, tokens)


def _specs(prefix: str, limits: Mapping[str, RequestLimit]) -> dict[str, LimitSpec]:
    return {name: _spec(f"{prefix}:{name}", limit) for name, limit in limits.items()}
