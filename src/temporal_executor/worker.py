"""The Temporal worker: the workflows (the agent loop, a schedule's run) and their activities
on the task queue, as a version of a Temporal Worker Deployment when
`temporal.deployment.name` is set."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkerDeploymentConfig

from .activities import build_activities
from .build import build_id
from .config import Config, ExecutorConfig
from .llm.registry import ProviderRegistry
from .policies import seconds
from .service import TaskService
from .store import Store
from .tools import ToolRegistry
from .workflows import WORKFLOWS

__all__ = ["build_worker", "deployment_config", "worker_options"]


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


BEHAVIORS = {
    "auto_upgrade": VersioningBehavior.AUTO_UPGRADE,
    "pinned": VersioningBehavior.PINNED,
}


def deployment_config(config: Config) -> WorkerDeploymentConfig | None:
    """The worker's Worker Deployment version, or None when versioning is off (no
    `temporal.deployment.name`). The behaviour is the worker's default for the workflow,
    which declares none of its own: it is the operator's choice, per fleet."""
    deployment = config.temporal.deployment
    if deployment.name is None:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment.name, build_id(config)),
        use_worker_versioning=True,
        default_versioning_behavior=BEHAVIORS[deployment.versioning_behavior],
    )


def build_worker(
    client: Client,
    config: Config,
    store: Store,
    providers: ProviderRegistry,
    tools: ToolRegistry,
) -> Worker:
    tasks = TaskService(client, store, config.temporal.task_queue)
    return Worker(
        client,
        task_queue=config.temporal.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(config, providers, tools, store, tasks.admit),
        graceful_shutdown_timeout=seconds(config.executor.graceful_shutdown_timeout),
        deployment_config=deployment_config(config),
        **worker_options(config.executor),
    )
