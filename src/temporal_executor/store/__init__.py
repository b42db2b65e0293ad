"""The store: event logs, transcripts, blobs, task records, sessions and the shared limiter
(see `base.py`; the append rules are `appends.py`, following a log live `followers.py`, the
limiter's rules `limits.py`), in memory, a SQLite file or PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..encryption import Sealer
from ..errors import ConfigError
from . import appends, base
from .appends import *  # noqa: F403
from .base import *  # noqa: F403
from .limits import Ask, LimitSpec, Refusal
from .memory import memory_store
from .sqlite import open_sqlite_store

__all__ = ["Ask", "LimitSpec", "Refusal", "memory_store", "open_sqlite_store", "open_store"]
__all__ += appends.__all__ + base.__all__

_SQLITE_PREFIX = "sqlite:///"


async def open_store(
    url: str, *, poll_interval: float = 0.25, sealer: Sealer | None = None
) -> base.Store:
    """Open the store `url` names (`events.url`); `sealer` encrypts its content columns
    (`encryption/sealed.py`; not in memory, where nothing is at rest).

    - `sqlite:///relative/path.db` or `sqlite:////absolute/path.db`: a SQLite file, as in
      SQLAlchemy (three slashes, then the path; an absolute path adds the fourth). The path is
      taken as written: no percent-decoding, no `~`, no query parameters.
    - `postgresql://user:password@host:5432/database` (or `postgres://`): a PostgreSQL
      database that the API and worker processes of several hosts share; needs the
      `temporal-executor[postgres]` extra (asyncpg). Query parameters go to asyncpg
      (`sslmode=require`, `host=/run/postgresql` for a unix socket, server settings).
    - `memory://`: this process's memory; for tests, since no other process sees it.
    """
    scheme, separator, _ = url.partition("://")
    scheme = scheme.lower()
    if separator and scheme == "memory" and url.lower() == "memory://":
        return memory_store(poll_interval=poll_interval)
    if separator and scheme == "sqlite":
        path = _sqlite_path(url)
        try:
            return await open_sqlite_store(path, poll_interval=poll_interval, sealer=sealer)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"events.url: cannot open SQLite database {path}: {exc}") from exc
    if separator and scheme in ("postgresql", "postgres"):
        # Imported only when asked for: asyncpg is an optional dependency.
        from .postgres import open_postgres_store

        return await open_postgres_store(url, poll_interval=poll_interval, sealer=sealer)
    # Only the scheme goes into the message: the rest of a database URL may hold a password.
    shown = f"{scheme!r}" if separator else "(none)"
    raise ConfigError(
        f"events.url: unsupported scheme {shown}; use sqlite:///path/to/events.db, "
        "postgresql://user@host/database or memory://"
    )


def _sqlite_path(url: str) -> Path:
    if not url.lower().startswith(_SQLITE_PREFIX):
        raise ConfigError(
            "events.url: a SQLite URL is sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (no host)"
        )
    path = url[len(_SQLITE_PREFIX) :]
    if not path or path == ":memory:":
        raise ConfigError(
            "events.url: SQLite needs a file path that the API and worker processes share; "
            "use memory:// for a store in one process"
        )
    if "?" in path:
        raise ConfigError("events.url: query parameters are not supported in a SQLite URL")
    return Path(path)
