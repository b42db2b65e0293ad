"""The process sandbox of stdio MCP servers.

A stdio server is a program we start on the worker, so it gets as little as possible:
- **Environment**: only the variables its config lists under `env`, plus `PATH` and `HOME`
  (the worker's, so that `uvx` / `npx` find their tools and caches) and `LANG=C.UTF-8`; each of
  the three is overridden by a configured value. Nothing else of the worker's environment —
  API keys, database URLs, `TEMPORAL_EXECUTOR__…` overrides — reaches the server.
- **Working directory**: `cwd` from the config, else a private temporary directory per server
  (removed when the worker stops).
- **Resource limits** (`limits:`), set by the launcher (`sandbox_launch.py`) before it `exec`s
  the server, so they hold for the server and everything it starts:
  `cpu_seconds` (RLIMIT_CPU: the CPU time one process may use over its whole life; then it is
  killed and the next call starts a fresh one), `memory_mb` (RLIMIT_AS: address space, i.e.
  virtual memory — runtimes that reserve a lot up front, such as the JVM, may need more or
  `null`), `open_files` (RLIMIT_NOFILE). `null` leaves a limit as the worker has it. Core dumps
  are off.
- **Process group**: the server runs in a session of its own; on a call timeout and on shutdown
  the whole group is killed with SIGKILL, children included.

This is a resource and information boundary, not a security jail: the server still runs as the
worker's user and can read what that user can. Run the worker in a container or as a dedicated
user to confine file system and network access.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LAUNCHER",
    "Limits",
    "child_environment",
    "kill_group",
    "launcher_argv",
    "process_alive",
    "read_pid",
]

LAUNCHER = Path(__file__).with_name("sandbox_launch.py")
DEFAULT_LANG = "C.UTF-8"


class Limits(BaseModel):
    """`limits:` of a stdio server; `null` keeps the worker's own limit."""

    model_config = ConfigDict(extra="forbid")

    cpu_seconds: int | None = Field(default=600, ge=1)
    memory_mb: int | None = Field(default=1024, ge=32)
    open_files: int | None = Field(default=256, ge=16)


def child_environment(configured: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of a server: `PATH`, `HOME`, `LANG`, then the configured values."""
    env = {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": os.environ.get("HOME") or str(Path.home()),
        "LANG": DEFAULT_LANG,
    }
    env.update(configured)
    return env


def launcher_argv(
    command: str, args: list[str], env_names: list[str], limits: Limits, pid_file: Path
) -> list[str]:
    """The command line that starts `command args` inside the sandbox (see module docstring)."""
    argv = [sys.executable, "-I", "-S", str(LAUNCHER), "--pid-file", str(pid_file)]
    for option, value in (
        ("--cpu-seconds", limits.cpu_seconds),
        ("--memory-mb", limits.memory_mb),
        ("--open-files", limits.open_files),
    ):
        if value is not None:
            argv += [option, str(value)]
    for name in env_names:
        argv += ["--keep", name]
    return [*argv, "--", command, *args]


def read_pid(pid_file: Path) -> int | None:
    """The pid the launcher wrote, if it leads its own process group (as it must)."""
    try:
        pid = int(pid_file.read_text(encoding="ascii").strip())
        return pid if pid > 1 and os.getpgid(pid) == pid else None
    except (OSError, ValueError):
        return None


def kill_group(pid: int | None) -> None:
    """SIGKILL the process group led by `pid`: the server and everything it started."""
    if pid is None or pid <= 1:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def process_alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting to be reaped does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True
