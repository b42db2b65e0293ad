"""A private PostgreSQL server for tests, from the server binaries installed on this machine.

`PostgresServer` runs `initdb` into a new temporary directory and starts the server on
127.0.0.1 (a free port) and on a unix socket in that directory, with trust authentication
and durability turned off for speed; leaving the `with` block stops it and deletes the
directory. PostgreSQL refuses to run as root, so under root the server's commands run as the
`postgres` OS user (which the Debian package creates).

    with PostgresServer() as server:
        url = server.create_database("test")  # postgresql://postgres@127.0.0.1:…/test
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresServer", "PostgresUnavailable", "find_bindir", "free_port"]

SEARCHED = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"


class PostgresUnavailable(Exception):
    """This machine cannot run a PostgreSQL server (binaries or the OS user missing)."""


def find_bindir() -> Path | None:
    """The directory of `initdb`, `pg_ctl` and `postgres`: $TE_TEST_POSTGRES_BIN, else the
    newest /usr/lib/postgresql/<version>/bin, else the one on PATH."""
    candidates: list[Path] = []
    if configured := os.environ.get("TE_TEST_POSTGRES_BIN"):
        candidates.append(Path(configured))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: _version(p.parent.name), reverse=True)
    if on_path := shutil.which("initdb"):
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A throwaway PostgreSQL server; see the module docstring."""

    def __init__(self, bindir: Path | None = None, *, durable: bool = False) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise PostgresUnavailable(
                f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) in {SEARCHED} or on "
                "PATH; install postgresql-15 or set TE_TEST_POSTGRES_BIN"
            )
        self.bindir = found
        # Durability off is fast, but a crash (`crash`) then loses the last commits.
        self.durable = durable
        self.host = "127.0.0.1"
        self.port = 0
        self.directory: Path | None = None
        self._run_as: list[str] = []
        self._owner: tuple[int, int] | None = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and there is no 'postgres' OS user to run the server as"
                ) from None
            self._owner = (account.pw_uid, account.pw_gid)
            if runuser := shutil.which("runuser"):
                self._run_as = [runuser, "-u", "postgres", "--"]
            elif setpriv := shutil.which("setpriv"):
                self._run_as = [
                    setpriv,
                    f"--reuid={account.pw_uid}",
                    f"--regid={account.pw_gid}",
                    "--init-groups",
                ]
            else:
                raise PostgresUnavailable(
                    "running as root, and neither runuser nor setpriv is there to run the "
                    "server as the 'postgres' OS user"
                )

    @property
    def socket_dir(self) -> Path:
        assert self.directory is not None, "the server is not running"
        return self.directory / "sockets"

    def url(self, database: str = "postgres") -> str:
        """The URL of `database` over TCP, as the superuser (no password: trust auth)."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        self._run(
            [str(self.bindir / "psql"), "-q", "-d", self.url(), "-c", f'CREATE DATABASE "{name}"']
        )
        return self.url(name)

    def start(self) -> None:
        # Not under pytest's tmp dir: its parents are private to root, and the server's user
        # must reach the data directory.
        self.directory = Path(tempfile.mkdtemp(prefix="te-postgres-"))
        data = self.directory / "data"
        self.socket_dir.mkdir()
        if self._owner is not None:
            for path in (self.directory, self.socket_dir):
                os.chown(path, *self._owner)
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        for _ in range(5):  # another process may take the free port before the server does
            self.port = free_port()
            started = self._launch()
            if started.returncode == 0:
                return
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout}\n{self.log()}")

    def crash(self) -> None:
        """Stop the server as a crash would (`pg_ctl stop -m immediate`: no shutdown
        checkpoint, every connection cut); `start_again` brings it back on the same port."""
        assert self.directory is not None, "the server is not running"
        data = self.directory / "data"
        self._run([str(self.bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"])

    def start_again(self) -> None:
        """Start the server crashed by `crash`, on the same port and data (it recovers)."""
        started = self._launch()
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start again:\n{started.stdout}\n{self.log()}")

    def _launch(self) -> subprocess.CompletedProcess[str]:
        assert self.directory is not None
        options = f"-h {self.host} -p {self.port} -k {self.socket_dir} -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        return self._run(
            [
                str(self.bindir / "pg_ctl"),
                "start",
                "-D",
                str(self.directory / "data"),
                "-l",
                str(self.directory / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "30",
            ],
            check=False,
        )

    def stop(self) -> None:
        if self.directory is None:
            return
        data = self.directory / "data"
        if (data / "postmaster.pid").exists():
            self._run(
                [str(self.bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"],
                check=False,
            )
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def log(self) -> str:
        """What the server wrote to its log so far."""
        if self.directory is None:
            return ""
        with contextlib.suppress(OSError):
            return (self.directory / "server.log").read_text(errors="replace")
        return ""

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server command as the server's OS user, without the caller's PG* settings."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        environment["LC_ALL"] = "C"
        result = subprocess.run(
            [*self._run_as, *command],
            cwd=self.directory,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed:\n{result.stdout}")
        return result
