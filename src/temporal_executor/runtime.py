"""Wiring: connect to Temporal, open the store, check the providers and tools of the config,
and run the API and/or the worker in one asyncio process until SIGINT / SIGTERM.

Only the worker builds providers (and so reads their keys): an API process checks requests
against config alone.

Shutting down (SIGTERM): the API stops accepting connections, ends its event streams with a
reconnect hint (their clients resume on another replica with `Last-Event-ID`) and answers
what is in flight for up to `API_GRACE` seconds; the worker stops polling and gives running
calls `executor.graceful_shutdown_timeout` to finish (the SDK then cancels regular
activities: they are retried elsewhere), and the process exits at the latest
`WORKER_MARGIN` seconds after that, whatever still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from temporalio.client import Client
from temporalio.worker import Worker

from .api import Submissions, create_app
from .api.readiness import readiness_app
from .build import build_id
from .config import Config
from .devserver import bind_first_free
from .encryption import Keyring, Sealer, data_converter, keyring_of
from .errors import ExecutorError
from .llm.catalog import ProviderCatalog
from .llm.registry import ProviderRegistry
from .observability import interceptors, metrics_app, observe_build, temporal_runtime
from .service import TaskService
from .store import Store, open_store
from .tools import ToolRegistry
from .worker import build_worker

__all__ = ["Services", "connect", "open_services", "run_services"]

logger = logging.getLogger(__name__)

API_GRACE = 5
WORKER_MARGIN = 5.0


async def connect(config: Config, *, within: float = 0.0) -> Client:
    """A Temporal client using the pydantic data converter (with the payload codec when
    `security.encryption` gives keys: its workers use it too), trying again for `within`
    seconds (a server that is starting); a clear error if unreachable or a key is malformed."""
    target = config.temporal.host_port
    converter = data_converter(keyring_of(config.security.encryption))
    deadline = time.monotonic() + within
    while True:
        try:
            return await Client.connect(
                target,
                namespace=config.temporal.namespace,
                data_converter=converter,
                runtime=temporal_runtime(),
                interceptors=interceptors(),
            )
        except RuntimeError as exc:
            if time.monotonic() >= deadline:
                raise ExecutorError(f"cannot reach Temporal at {target}: {exc}") from None
            await asyncio.sleep(0.1)


@dataclass
class Services:
    """What the API and the worker are built from; `providers` is checked config only;
    `keyring`: the encryption keys (`security.encryption`), None when none are given."""

    config: Config
    client: Client
    store: Store
    providers: ProviderCatalog
    tools: ToolRegistry
    tasks: TaskService
    submissions: Submissions
    keyring: Keyring | None = None


@contextlib.asynccontextmanager
async def open_services(config: Config, *, client: Client | None = None) -> AsyncIterator[Services]:
    for level, note in config.notes:
        logger.log(level, "%s", note)
    providers = ProviderCatalog(config.llm)
    tools = ToolRegistry(config.tools)
    observe_build(build_id(config))
    keyring = keyring_of(config.security.encryption)
    if keyring is not None and keyring.current and config.observability.capture_content:
        logger.warning(
            "observability.capture_content puts prompts, answers and tool data on trace spans "
            "in clear text, while security.encryption encrypts them at rest"
        )
    client = client or await connect(config)
    store = await open_store(
        config.events_url(), poll_interval=config.events.poll_interval, sealer=Sealer(keyring)
    )
    submissions = Submissions(config, providers, tools)
    try:
        yield Services(
            config,
            client,
            store,
            providers,
            tools,
            TaskService(client, store, config.temporal.task_queue, tools.side_effects),
            submissions,
            keyring,
        )
    finally:
        await submissions.aclose()
        await tools.aclose()
        await store.close()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are ours: we stop the worker gracefully too (see run_services).
        yield


def _server(app: Any, host: str, port: int) -> _Server:
    # log_config=None: uvicorn's records go to our handlers (text or JSON), not its own.
    return _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=API_GRACE,
        )
    )


def _metrics_socket(host: str, port: int) -> socket.socket:
    """The worker's metrics socket: on `port`, or, when another process on this host (another
    worker) has it, on the next free one, said in one line."""
    what = "worker metrics (observability.metrics_port)"
    sock = bind_first_free(host, port, what)
    if (bound := sock.getsockname()[1]) != port:
        logger.warning("%s: port %d is taken; serving metrics on %d instead", what, port, bound)
    return sock


async def run_services(
    services: Services,
    *,
    api: bool,
    worker: bool,
    on_ready: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the API and/or the worker until `stop` is set, a signal arrives, or one of them
    stops. A worker without the API serves its metrics on `observability.metrics_port`."""
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
    servers: list[tuple[_Server, list[socket.socket] | None]] = []
    if api:
        app = create_app(config, services.tasks, services.submissions, keyring=services.keyring)
        servers.append((_server(app, config.server.host, config.server.port), None))
        if config.server.readiness_port is not None:
            probe = readiness_app(services.tasks, build_id(config))
            port = config.server.readiness_port
            servers.append((_server(probe, config.server.host, port), None))
    elif worker and config.observability.metrics_port is not None:
        sock = _metrics_socket(config.server.host, config.observability.metrics_port)
        port = sock.getsockname()[1]
        servers.append((_server(metrics_app(), config.server.host, port), [sock]))
    for server, sockets in servers:
        running.append(asyncio.create_task(server.serve(sockets=sockets), name="http"))
        while not server.started and not running[-1].done():  # noqa: ASYNC110 - no event
            await asyncio.sleep(0.05)
    if on_ready is not None and all(not t.done() for t in running):
        on_ready()

    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *running], return_when=asyncio.FIRST_COMPLETED)
    logger.info("shutting down")
    if api:
        services.tasks.drain()
    for server, _ in servers:
        server.should_exit = True
    if temporal_worker is not None and not running[0].done():
        await _stop_worker(temporal_worker, running[0], config.executor.graceful_shutdown_timeout)
    stopper.cancel()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if providers is not None:
        await providers.aclose()


async def _stop_worker(worker: Worker, run: asyncio.Task[None], grace: float) -> None:
    """Stop polling; calls get `grace` seconds (the SDK cancels regular activities then, but
    waits for local ones), and after `WORKER_MARGIN` more the worker is abandoned."""
    try:
        await asyncio.wait_for(asyncio.shield(worker.shutdown()), grace + WORKER_MARGIN)
    except TimeoutError:
        logger.warning(
            "calls still running %.0fs after shutdown began: leaving them (Temporal retries "
            "them on another worker)",
            grace + WORKER_MARGIN,
        )
        run.cancel()
