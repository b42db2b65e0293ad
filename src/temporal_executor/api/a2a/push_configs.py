"""Push notification configs, kept in the store with their task so that they outlive the
API process, as the spec requires ("persist until task completion or explicit deletion").

Two records per task, as blobs: `<task key>/push` has the configs with their owners and whether
kagent's HITL rendering was asked for; `<task id>/push-progress` whether a follower delivers
the task's events, the seq of the last event delivered, and whether the terminal status was
delivered (see `push.py`). Apart, so that the API calls that change configs and the follower
that notes its progress never overwrite each other.

Every `task_id` here is the task's key (`tenants.py`: its id with its tenant), so tenants
with tasks of the same id keep their configs apart; a config names the task by its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.owner_resolver import OwnerResolver, resolve_user_scope
from a2a.server.tasks.push_notification_config_store import (
    PushNotificationConfigStore,
    normalize_push_notification_config,
)
from a2a.types import TaskPushNotificationConfig
from google.protobuf.json_format import MessageToDict, ParseDict

from ...store import Blobs
from ...tenants import name
from .hitl import hitl_requested

__all__ = ["PushConfigs"]

# The records kept per task, with their contents when new.
_RECORDS: dict[str, dict[str, Any]] = {
    "push": {"configs": [], "hitl": False},
    "push-progress": {"watched": False, "delivered": 0, "finished": False},
}


class PushConfigs(PushNotificationConfigStore):
    """The push configs of each task, and its delivery progress (module docstring)."""

    def __init__(self, blobs: Blobs, owner_resolver: OwnerResolver = resolve_user_scope):
        self.blobs = blobs
        self.owner_resolver = owner_resolver
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def read(self, task_id: str, record: str = "push") -> dict[str, Any]:
        blob = await self.blobs.get(f"{task_id}/{record}")
        found: dict[str, Any] = json.loads(blob) if blob else {}
        return {**_RECORDS[record], **found}

    @contextlib.asynccontextmanager
    async def edit(self, task_id: str, record: str = "push") -> AsyncIterator[dict[str, Any]]:
        """One of the task's records, written back when the block ends (one editor at a time
        in this process)."""
        key = f"{task_id}/{record}"
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            data = await self.read(task_id, record)
            yield data
            await self.blobs.put(key, json.dumps(data))

    async def set_info(
        self,
        task_id: str,
        notification_config: TaskPushNotificationConfig,
        context: ServerCallContext,
    ) -> TaskPushNotificationConfig:
        stored = normalize_push_notification_config(name(task_id), notification_config)
        owner = self.owner_resolver(context)
        async with self.edit(task_id) as data:
            data["configs"] = [
                c for c in data["configs"] if (c["owner"], c["config"]["id"]) != (owner, stored.id)
            ]
            data["configs"].append({"owner": owner, "config": MessageToDict(stored)})
            data["hitl"] = data["hitl"] or hitl_requested(context)
        return stored

    async def get_info(
        self, task_id: str, context: ServerCallContext
    ) -> list[TaskPushNotificationConfig]:
        return await self._configs(task_id, self.owner_resolver(context))

    async def get_info_for_dispatch(self, task_id: str) -> list[TaskPushNotificationConfig]:
        return await self._configs(task_id, None)

    async def delete_info(
        self, task_id: str, context: ServerCallContext, config_id: str | None = None
    ) -> None:
        owner = self.owner_resolver(context)
        async with self.edit(task_id) as data:
            data["configs"] = [
                c
                for c in data["configs"]
                if c["owner"] != owner or config_id not in (None, c["config"]["id"])
            ]

    async def _configs(self, task_id: str, owner: str | None) -> list[TaskPushNotificationConfig]:
        return [
            ParseDict(c["config"], TaskPushNotificationConfig())
            for c in (await self.read(task_id))["configs"]
            if owner is None or c["owner"] == owner
        ]
