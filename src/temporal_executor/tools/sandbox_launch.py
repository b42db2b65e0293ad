"""The launcher that becomes a sandboxed stdio MCP server (see `sandbox.py`).

    python -I -S sandbox_launch.py --cpu-seconds 600 --memory-mb 1024 --open-files 256 \
        --pid-file /tmp/…/pid --keep PATH --keep HOME … -- command args…

The MCP SDK's `stdio_client` spawns the server itself (in a new session, hence its own process
group) and takes no `preexec_fn`, so it spawns this script instead: it sets the resource
limits, writes its pid, drops every environment variable not named by `--keep`, and `exec`s the
command, which keeps this pid, the process group and the limits. Standard library only, and run
by path with `-I -S`, so nothing from the worker's environment or site-packages runs on the way.
Exit status 127 (with a line on stderr) when the command cannot be started.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

__all__ = ["main"]


def _limit(kind: int, value: int | None, hard_extra: int = 0) -> None:
    """Lower a limit to `value` (soft) and `value + hard_extra` (hard); never raise one."""
    if value is None:
        return
    _, hard = resource.getrlimit(kind)
    cap = hard if hard != resource.RLIM_INFINITY else None
    soft_value = value if cap is None else min(value, cap)
    hard_value = value + hard_extra if cap is None else min(value + hard_extra, cap)
    resource.setrlimit(kind, (soft_value, hard_value))


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("sandbox: usage: sandbox_launch.py [options] -- command [args…]", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="sandbox_launch")
    parser.add_argument("--cpu-seconds", type=int)
    parser.add_argument("--memory-mb", type=int)
    parser.add_argument("--open-files", type=int)
    parser.add_argument("--pid-file")
    parser.add_argument("--keep", action="append", default=[])
    options = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        print("sandbox: no command given", file=sys.stderr)
        return 2

    # CPU: SIGXCPU at the soft limit, SIGKILL one second later if that is ignored.
    _limit(resource.RLIMIT_CPU, options.cpu_seconds, hard_extra=1)
    if options.memory_mb is not None:
        _limit(resource.RLIMIT_AS, options.memory_mb * 1024 * 1024)
    _limit(resource.RLIMIT_NOFILE, options.open_files)
    # No core files: a crashed server's memory may hold the secrets it was configured with.
    _limit(resource.RLIMIT_CORE, 0)

    if options.pid_file:
        with open(options.pid_file, "w", encoding="ascii") as file:
            file.write(str(os.getpid()))
    env = {name: os.environ[name] for name in options.keep if name in os.environ}
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        print(f"sandbox: cannot run {command[0]!r}: {exc.strerror or exc}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
