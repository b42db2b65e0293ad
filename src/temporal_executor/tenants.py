"""Tenants: whose a task is, and how that shows in its ids.

Every task and session belongs to one tenant (the tenant of the API key that submitted it;
`default` for keys with none, and for every task of the releases before tenants). Ids repeat
across tenants without clashing because the id a task has in Temporal and in the store — its
*key* — names the tenant:

    tenant    task id   key            workflow id
    default   t1        t1             agent-execution-t1          (as before tenants)
    team-a    t1        team-a~t1      agent-execution-team-a~t1

Task and session ids never hold `~` (`api/bodies.py` ID_PATTERN) and tenant names never do
(`TENANT_PATTERN`), so a key is a default-tenant id exactly when it has no `~`, and otherwise
splits at its first `~`. Not `/`: the store keys a task's blobs `<task key>/<record>`, and
deleting a session deletes its tasks' blobs by that prefix, so a default-tenant task named
`team-a` would take every `team-a/…` blob with it. The store needs no column for the owner:
the key says it, and the keys of the `default` tenant are the keys earlier releases wrote.

`Tenancy` is what one call may see: the tenant it acts in, and whether its listings span
every tenant (an `admin` key, or auth off).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "DEFAULT_TENANT",
    "RESERVED_TENANTS",
    "SEPARATOR",
    "TENANT_PATTERN",
    "Tenancy",
    "key_prefix",
    "name",
    "scoped",
    "split",
    "valid_tenant",
]

DEFAULT_TENANT = "default"
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Path segments of the A2A HTTP+JSON routes (`/a2a/rest/tasks/…`, the 0.3 `/a2a/rest/v1/…`):
# a tenant of that name could not be told from them in `/a2a/rest/{tenant}/…`.
RESERVED_TENANTS = frozenset({"tasks", "v1"})
SEPARATOR = "~"


def valid_tenant(name: str) -> bool:
    """Whether `name` may name a tenant."""
    return bool(re.fullmatch(TENANT_PATTERN, name)) and name not in RESERVED_TENANTS


def scoped(tenant: str, name: str) -> str:
    """The key of the task, session or record `name` of `tenant` (unchanged for `default`)."""
    return name if tenant == DEFAULT_TENANT else f"{tenant}{SEPARATOR}{name}"


def split(key: str) -> tuple[str, str]:
    """The tenant a key belongs to, and the name it has there (`scoped`'s inverse)."""
    tenant, separator, name = key.partition(SEPARATOR)
    return (tenant, name) if separator else (DEFAULT_TENANT, key)


def name(key: str) -> str:
    """The id a key has in its tenant (what its tenant's callers see)."""
    return split(key)[1]


def key_prefix(tenant: str) -> str | None:
    """What every key of `tenant` starts with; None for `default`, whose keys hold no
    `SEPARATOR`."""
    return None if tenant == DEFAULT_TENANT else f"{tenant}{SEPARATOR}"


@dataclass(frozen=True)
class Tenancy:
    """What one call sees: it acts in `tenant` (a task it names is that tenant's; a task it
    starts becomes that tenant's); with `everyone`, listings that name no tenant show every
    tenant's tasks (each labelled with its tenant)."""

    tenant: str = DEFAULT_TENANT
    everyone: bool = False

    @property
    def listed(self) -> str | None:
        """The tenant whose tasks a listing shows; None: every tenant's."""
        return None if self.everyone else self.tenant
