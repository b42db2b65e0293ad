"""`temporal-executor deployment status | set-current`: Temporal Worker Versioning for
operators, over the Temporal client API (the SDK has no wrapper for these calls yet).

What they add to `temporal worker deployment …` (the Temporal CLI, for everything else:
ramping, deleting versions, moving a workflow): the deployment name, address and namespace
come from our config, and `set-current` defaults to this install's own build id and can wait
for its workers to poll, so a release's image promotes exactly itself (the Kubernetes Job and
the compose service in deploy/ run it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from ..build import build_id
from ..config import Config, parse_duration
from ..errors import ExecutorError
from ..runtime import connect

__all__ = [
    "DeploymentStatus",
    "VersionStatus",
    "add_commands",
    "describe",
    "promote",
    "set_current",
    "status",
]

IDENTITY = "temporal-executor deployment"
RETRY_EVERY = 1.0  # seconds between attempts while the version's workers are not polling yet
# The server's answers while no worker of the version has polled (it creates versions then).
NOT_POLLED_YET = (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)


@dataclass(frozen=True)
class VersionStatus:
    """One version of the deployment: `status` is `inactive` (polled, never current),
    `current`, `ramping`, `draining` (was current; pinned tasks still run on it) or `drained`
    (nothing runs on it any more: its workers can stop)."""

    build_id: str
    status: str
    created: str | None


@dataclass(frozen=True)
class DeploymentStatus:
    name: str
    current: str | None
    ramping: str | None
    ramping_percentage: float
    versions: list[VersionStatus]

    def version(self, build: str) -> VersionStatus | None:
        return next((v for v in self.versions if v.build_id == build), None)


async def describe(client: Client, name: str) -> DeploymentStatus:
    """The deployment's routing and versions (newest first), as Temporal reports them."""
    request = DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=name)
    try:
        response = await client.workflow_service.describe_worker_deployment(request)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ExecutorError(
                f"no Worker Deployment {name!r} in namespace {client.namespace!r} (it exists "
                "once one of its workers has polled)"
            ) from None
        raise ExecutorError(f"cannot describe Worker Deployment {name!r}: {exc}") from None
    info = response.worker_deployment_info
    routing = info.routing_config
    versions = [
        VersionStatus(
            build_id=summary.deployment_version.build_id,
            status=_status_name(summary.status),
            created=_time(summary.create_time),
        )
        for summary in info.version_summaries
    ]
    versions.sort(key=lambda v: v.created or "", reverse=True)
    return DeploymentStatus(
        name=name,
        current=routing.current_deployment_version.build_id or None,
        ramping=routing.ramping_deployment_version.build_id or None,
        ramping_percentage=routing.ramping_version_percentage,
        versions=versions,
    )


async def promote(client: Client, name: str, build: str, *, within: float = 0.0) -> str | None:
    """Make `build` the deployment's current version: new tasks start on it, and auto-upgrade
    tasks move to it at their next step. Tries again for `within` seconds while none of its
    workers has polled yet (a rollout in progress). Returns the previous current build id."""
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace, deployment_name=name, build_id=build, identity=IDENTITY
    )
    deadline = time.monotonic() + within
    while True:
        try:
            response = await client.workflow_service.set_worker_deployment_current_version(request)
            return response.previous_deployment_version.build_id or None
        except RPCError as exc:
            if exc.status not in NOT_POLLED_YET:
                raise ExecutorError(f"cannot make {build} current in {name!r}: {exc}") from None
            if time.monotonic() >= deadline:
                raise ExecutorError(
                    f"cannot make {build} current in {name!r}: {exc.message} (are workers of "
                    "that build running? --wait gives them time to start)"
                ) from None
        await asyncio.sleep(RETRY_EVERY)


def status(config: Config, args: argparse.Namespace) -> int:
    name = _deployment_name(config)

    async def main() -> DeploymentStatus:
        return await describe(await connect(config), name)

    found = asyncio.run(main())
    if args.json:
        print(json.dumps(asdict(found), indent=2))
        return 0
    ramping = f"{found.ramping} ({found.ramping_percentage:g}%)" if found.ramping else "-"
    print(f"deployment {found.name}: current {found.current or '-'}, ramping {ramping}")
    print(f"this install: {build_id(config)}")
    width = max([len("BUILD ID"), *(len(v.build_id) for v in found.versions)])
    print(f"{'BUILD ID':<{width}}  {'STATUS':<9}  CREATED")
    for version in found.versions:
        print(f"{version.build_id:<{width}}  {version.status:<9}  {version.created or '-'}")
    return 0


def set_current(config: Config, args: argparse.Namespace) -> int:
    name = _deployment_name(config)
    build = args.build_id or build_id(config)

    async def main() -> str | None:
        return await promote(await connect(config), name, build, within=args.wait)

    previous = asyncio.run(main())
    print(f"deployment {name}: current version {build} (was {previous or 'unversioned'})")
    return 0


def add_commands(commands: Any) -> None:
    """`deployment status` and `deployment set-current` under `commands` (argparse's)."""
    deployment = commands.add_parser(
        "deployment",
        help="Worker Versioning: this fleet's versions; promote one (temporal.deployment.name)",
    )
    actions = deployment.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("status", help="the current version and every version's status")
    show.add_argument("--json", action="store_true", help="print it as JSON")
    show.set_defaults(handler=status, exit_at_once=True)  # see cli.main
    promote_ = actions.add_parser(
        "set-current", help="make a version current: new tasks start there, old workers drain"
    )
    promote_.add_argument(
        "--build-id", help="the version to promote (default: this install's build id)"
    )
    promote_.add_argument(
        "--wait",
        metavar="DURATION",
        type=_duration,
        default=0.0,
        help="keep trying this long while its workers have not polled yet (e.g. 10m)",
    )
    promote_.set_defaults(handler=set_current, exit_at_once=True)


def _deployment_name(config: Config) -> str:
    name = config.temporal.deployment.name
    if name is None:
        raise ExecutorError(
            "Worker Versioning is off: set temporal.deployment.name "
            "(TEMPORAL_EXECUTOR__TEMPORAL__DEPLOYMENT__NAME) as the workers have it"
        )
    return name


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _status_name(value: int) -> str:
    name: str = WorkerDeploymentVersionStatus.Name(value)  # type: ignore[arg-type]
    return name.removeprefix("WORKER_DEPLOYMENT_VERSION_STATUS_").lower()


def _time(stamp: Timestamp) -> str | None:
    if not stamp.seconds and not stamp.nanos:
        return None
    return datetime.fromtimestamp(stamp.seconds, UTC).isoformat().replace("+00:00", "Z")
