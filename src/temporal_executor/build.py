"""What this build is: the package version and its build id, as `--version`, `/readyz`,
`/metrics` and Temporal Worker Versioning report it.

The build id is `temporal.deployment.build_id` when set, else `<version>-<digest>`: the digest
covers the workflow code (`WORKFLOW_CODE`: the workflow itself and the models of what it
carries), so two installs of the same code have the same build id and a build whose
workflow changed without a new version gets a new one. Everything else (activities, API,
providers) is covered by the version alone: it runs on any worker, whatever the workflow's
version, and every release bumps the version anyway. A build id is at most 255 characters
and has no `+` (it names images and Kubernetes labels too).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from . import __version__
from .config import Config

__all__ = ["WORKFLOW_CODE", "build_id", "default_build_id", "workflow_digest"]

# The packages and modules (beside this file) whose source decides what a running workflow
# does: its steps, and the models of the payloads in its history (`versioned.py` says which).
WORKFLOW_CODE = (
    "workflows",
    "versioned.py",
    "spec.py",
    "tasks.py",
    "policies.py",
    "llm/messages.py",
)
DIGEST_LENGTH = 12  # hex digits: 48 bits, plenty to tell builds of one version apart


@functools.cache
def workflow_digest() -> str:
    """SHA-256 over the workflow code's `.py` files, by path relative to the package (sorted)
    and content: the same on every machine and install of the same code."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for name in WORKFLOW_CODE:
        where = package / name
        for path in sorted(where.rglob("*.py")) if where.is_dir() else [where]:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def default_build_id() -> str:
    return f"{__version__}-{workflow_digest()[:DIGEST_LENGTH]}"


def build_id(config: Config) -> str:
    """This process's build id: the configured one, else the default."""
    return config.temporal.deployment.build_id or default_build_id()
