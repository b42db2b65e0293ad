"""The Temporal worker: the agent workflow and its activities on the task queue."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from .activities import build_activities
from .config import Config, ExecutorConfig
from .llm.registry import ProviderRegistry
from .policies import seconds
from .store import Store
from .tools import ToolRegistry
from .workflows import AgentExecutionWorkflow

__all__ = ["build_worker", "worker_options"]


def worker_options(executor: ExecutorConfig) -> dict[str, Any]:
    """The worker's slots and cache, from `executor` (benchmarks give a bare workflow the
    same)."""
    sandbox = {} if executor.workflow_sandbox else {"workflow_runner": UnsandboxedWorkflowRunner()}
    return {
        **sandbox,
        "max_cached_workflows": executor.max_concurrent_workflows,
        "max_concurrent_workflow_tasks": max(2, min(executor.max_concurrent_workflows, 100)),
        "max_concurrent_activities": executor.max_concurrent_activities,
        "max_concurrent_local_activities": executor.max_concurrent_activities,
    }


def build_worker(
    client: Client,
    config: Config,
    store: Store,
    providers: ProviderRegistry,
    tools: ToolRegistry,
) -> Worker:
    return Worker(
        client,
        task_queue=config.temporal.task_queue,
        workflows=[AgentExecutionWorkflow],
        activities=build_activities(providers, tools, store),
        graceful_shutdown_timeout=seconds(config.executor.graceful_shutdown_timeout),
        **worker_options(config.executor),
    )
