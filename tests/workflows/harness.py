"""The time-skipping test bench of the workflow tests: Temporal's test server (module-scoped
`env` fixture in conftest.py), a worker with the real workflow and activities, the scripted
provider and tool of `temporal_executor.testing`, the in-memory store and the task service."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_executor.activities import build_activities
from temporal_executor.api import Submissions
from temporal_executor.api.bodies import ExecuteRequest
from temporal_executor.config import Config
from temporal_executor.llm.catalog import ProviderCatalog
from temporal_executor.llm.registry import ProviderRegistry
from temporal_executor.service import TaskService
from temporal_executor.store import Store, memory_store
from temporal_executor.tasks import Event, TaskState, TaskStatus
from temporal_executor.testing import SCRIPTED_TOOL_TYPES
from temporal_executor.tools import ToolRegistry
from temporal_executor.workflows import AgentExecutionWorkflow

TOOL = {"name": "lookup", "type": "scripted", "config": {"result": "found it"}}
MODEL = {"provider": "scripted", "model": "script-1", "stream": False}


def scripted(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A provider config: the scripted provider under `name`, playing `steps`."""
    return {
        "name": name,
        "class": "temporal_executor.testing:ScriptedProvider",
        "config": {"steps": steps},
    }


def config(
    steps: list[dict[str, Any]],
    *,
    providers: list[dict[str, Any]] | None = None,
    **executor: Any,
) -> Config:
    """A config with the scripted provider `scripted` playing `steps` (and `providers`)."""
    return Config.model_validate(
        {
            "temporal": {"task_queue": f"ts-{uuid.uuid4().hex[:12]}"},
            "executor": {"timeouts": {"heartbeat": "1s"}, **executor},
            "llm": {"providers": [scripted("scripted", steps), *(providers or [])]},
        }
    )


@dataclass
class Setup:
    env: WorkflowEnvironment
    store: Store
    tasks: TaskService
    submissions: Submissions

    async def start(self, **body: Any) -> str:
        request = ExecuteRequest.model_validate({"model_config": MODEL, **body})
        state = await self.tasks.submit(self.submissions.prepare(request).input, named=False)
        return state.task_id

    async def events(self, task_id: str) -> list[Event]:
        return await self.tasks.log(task_id)

    async def until(self, task_id: str, status: TaskStatus) -> TaskState:
        for _ in range(500):
            state = await self.store.tasks.get(task_id)
            if state is not None and state.status == status:
                return state
            await asyncio.sleep(0.02)
        raise AssertionError(f"task {task_id} never reached {status}")


@asynccontextmanager
async def running(env: WorkflowEnvironment, cfg: Config) -> AsyncIterator[Setup]:
    store = memory_store(poll_interval=0.02)
    catalog = ProviderCatalog(cfg.llm)
    tools = ToolRegistry(cfg.tools, types=SCRIPTED_TOOL_TYPES)
    providers = ProviderRegistry(catalog)
    tasks = TaskService(env.client, store, cfg.temporal.task_queue)
    worker = Worker(
        env.client,
        task_queue=cfg.temporal.task_queue,
        workflows=[AgentExecutionWorkflow],
        activities=build_activities(cfg, providers, tools, store, tasks.admit),
    )
    async with worker:
        yield Setup(env, store, tasks, Submissions(cfg, catalog, tools))
    await providers.aclose()


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events if e.type != "llm.delta"]
