"""Heartbeats while an activity waits on something slow, so a dead worker is noticed within
the heartbeat timeout instead of the (much longer) start-to-close timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio import activity

__all__ = ["heartbeating"]


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat every third of the activity's heartbeat timeout while the block runs."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        yield
        return
    interval = max(timeout.total_seconds() / 3, 0.1)

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
