"""Wiring: connect to Temporal, open the store, check the providers and tools of the config,
and run the API and/or the worker in one asyncio process until SIGINT / SIGTERM.

Only the worker builds providers (and so reads their keys): an API process checks requests
against config alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import uvicorn
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from .api import Submissions, create_app
from .config import Config
from .errors import ExecutorError
from .llm.catalog import ProviderCatalog
from .llm.registry import ProviderRegistry
from .service import TaskService
from .store import Store, open_store
from .tools import ToolRegistry
from .worker import build_worker

__all__ = ["Services", "connect", "open_services", "run_services"]

logger = logging.getLogger(__name__)


async def connect(config: Config, *, within: float = 0.0) -> Client:
    """A Temporal client using the pydantic data converter, trying again for `within`
    seconds (a server that is starting); a clear error if unreachable."""
    target = config.temporal.host_port
    deadline = time.monotonic() + within
    while True:
        try:
            return await Client.connect(
                target,
                namespace=config.temporal.namespace,
                data_converter=pydantic_data_converter,
            )
        except RuntimeError as exc:
            if time.monotonic() >= deadline:
                raise ExecutorError(f"cannot reach Temporal at {target}: {exc}") from None
            await asyncio.sleep(0.1)


@dataclass
class Services:
    """What the API and the worker are built from; `providers` is checked config only."""

    config: Config
    client: Client
    store: Store
    providers: ProviderCatalog
    tools: ToolRegistry
    tasks: TaskService
    submissions: Submissions


@contextlib.asynccontextmanager
async def open_services(config: Config, *, client: Client | None = None) -> AsyncIterator[Services]:
    providers = ProviderCatalog(config.llm)
    tools = ToolRegistry(config.tools)
    client = client or await connect(config)
    store = await open_store(config.events_url(), poll_interval=config.events.poll_interval)
    try:
        yield Services(
            config,
            client,
            store,
            providers,
            tools,
            TaskService(client, store, config.temporal.task_queue),
            Submissions(config, providers, tools),
        )
    finally:
        await tools.aclose()
        await store.close()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are ours: we stop the worker gracefully too (see run_services).
        yield


async def run_services(
    services: Services,
    *,
    api: bool,
    worker: bool,
    on_ready: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the API and/or the worker until `stop` is set, a signal arrives, or one of them
    stops."""
    config = services.config
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    running: list[asyncio.Task[None]] = []
    temporal_worker = None
    providers = ProviderRegistry(services.providers) if worker else None
    if providers is not None:
        temporal_worker = build_worker(
            services.client, config, services.store, providers, services.tools
        )
        running.append(asyncio.create_task(temporal_worker.run(), name="worker"))
    server = None
    if api:
        app = create_app(config, services.tasks, services.submissions)
        server = _Server(
            uvicorn.Config(
                app,
                host=config.server.host,
                port=config.server.port,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=5,
            )
        )
        running.append(asyncio.create_task(server.serve(), name="api"))
        while not server.started and not running[-1].done():  # noqa: ASYNC110 - no event
            await asyncio.sleep(0.05)
    if on_ready is not None and all(not t.done() for t in running):
        on_ready()

    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *running], return_when=asyncio.FIRST_COMPLETED)
    logger.info("shutting down")
    if server is not None:
        server.should_exit = True
    if temporal_worker is not None and not running[0].done():
        await temporal_worker.shutdown()
    stopper.cancel()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if providers is not None:
        await providers.aclose()
