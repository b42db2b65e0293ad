"""The API's bearer keys: read from the environment variable `server.api_keys_env` names,
each with a name (for audit), the scopes `server.api_key_scopes` gives it and the tenant
`server.api_key_tenants` puts it in (`default` when none).

The variable holds comma-separated entries, `name:key` or a bare `key` (named `key-1`,
`key-2`, … by its position in the list, so keys set before names existed keep working):

    TEMPORAL_EXECUTOR_API_KEYS="ci:3f9a…,ops-alice:77c1…,legacy-token"

A key's secret is never shown: errors about an entry name it by position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import ConfigError
from ..tenants import DEFAULT_TENANT

__all__ = ["ALL_SCOPES", "KEY_NAME_PATTERN", "ApiKey", "Scope", "parse_api_keys"]

KEY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Scope(StrEnum):
    """What a key may do. A key without configured scopes has them all but `admin`."""

    READ = "read"  # read tasks, sessions, events; A2A GetTask, ListTasks, SubscribeToTask
    WRITE = "write"  # start, cancel, delete; A2A messages that start a task, push configs
    APPROVE = "approve"  # decide paused tasks: REST approve, A2A messages to a paused task
    # See every tenant's tasks (with the other scopes: act on them); only when given by name.
    ADMIN = "admin"


# What a key without configured scopes may do: everything within its tenant.
ALL_SCOPES = frozenset({Scope.READ, Scope.WRITE, Scope.APPROVE})


@dataclass(frozen=True)
class ApiKey:
    """One bearer key: its name, its secret (never logged), its scopes and its tenant."""

    name: str
    secret: str = field(repr=False)
    scopes: frozenset[Scope] = ALL_SCOPES
    tenant: str = DEFAULT_TENANT


def parse_api_keys(
    raw: str,
    variable: str,
    scopes: dict[str, list[Scope]] | None = None,
    tenants: dict[str, str] | None = None,
) -> list[ApiKey]:
    """The keys of `raw` (the value of the environment variable `variable`); a malformed
    entry, a name given twice, or a scoped or tenanted name without a key is a
    `ConfigError`."""
    scopes, tenants = scopes or {}, tenants or {}
    keys: list[ApiKey] = []
    entries = [entry.strip() for entry in raw.split(",")]
    for position, entry in enumerate((e for e in entries if e), start=1):
        name, colon, secret = entry.partition(":")
        if not colon:
            name, secret = f"key-{position}", entry
        elif not re.fullmatch(KEY_NAME_PATTERN, name) or not secret.strip():
            raise ConfigError(
                f"environment variable {variable}: entry {position} must be `name:key` "
                "(name: letters, digits, . _ -; at most 64) or a bare key"
            )
        if any(k.name == name for k in keys):
            raise ConfigError(f"environment variable {variable}: key name {name!r} is used twice")
        granted = scopes.get(name)
        keys.append(
            ApiKey(
                name,
                secret.strip(),
                ALL_SCOPES if granted is None else frozenset(granted),
                tenants.get(name, DEFAULT_TENANT),
            )
        )
    for setting, named in (("api_key_scopes", scopes), ("api_key_tenants", tenants)):
        unknown = sorted(set(named) - {k.name for k in keys})
        if keys and unknown:
            raise ConfigError(
                f"server.{setting}.{unknown[0]}: no key of that name in {variable} "
                f"(its keys: {', '.join(k.name for k in keys)})"
            )
    return keys
