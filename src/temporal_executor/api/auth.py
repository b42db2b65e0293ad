"""Who is calling, and whether they may: one check for every transport.

`Authenticator.authenticate(authorization)` takes the `Authorization` header (HTTP) or
metadata value (gRPC) and gives the `Caller` whose key it carries, `None` when auth is off,
or raises `UnauthorizedError` (401). `Caller.require(scope)` raises `ForbiddenError` (403)
when the key lacks the scope. Tokens are compared in constant time against every key (their
SHA-256 digests, so neither a key's length nor which key matched shows in the timing).
`tenancy_of(caller, named)` is the tenant a call acts in (`tenants.py`): its key's; the one
it names, for an `admin` key or with auth off.

The codec server (`routes/codec.py`) also takes a session cookie, because the Temporal UI
that calls it cannot send a bearer token (see there): `Authenticator.session(caller)` mints
one for a caller that authenticated with its key, `authenticate_session(value)` checks it.
It names the key and when it expires, and is signed with a digest of the key's secret: any
replica with the same keys accepts it, and it dies with its key.

Request handlers get the caller in one way: the `CallerDep` dependency (REST routes), or
`caller_of(context)` (A2A handlers, from the `ServerCallContext`); both read what the
`BearerAuth` middleware stored on the request (`caller_from_scope`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.types import Scope as AsgiScope

from ..config import ApiKey, Scope
from ..errors import ForbiddenError, TenantNotFoundError, UnauthorizedError
from ..tenants import DEFAULT_TENANT, Tenancy, valid_tenant

__all__ = [
    "CALLER_STATE",
    "SESSION_COOKIE",
    "Authenticator",
    "Caller",
    "CallerDep",
    "caller_from_scope",
    "caller_of",
    "requires",
    "tenancy_of",
]

CALLER_STATE = "caller"  # the key of the request state (and A2A call context state)
SESSION_COOKIE = "te_codec"  # the codec server's session (see the module docstring)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: the name of the key it used (for audit: who started,
    approved or cancelled), what that key may do, and the tenant whose tasks it sees (every
    tenant's, with the `admin` scope)."""

    name: str
    scopes: frozenset[Scope]
    tenant: str = DEFAULT_TENANT

    @property
    def admin(self) -> bool:
        return Scope.ADMIN in self.scopes

    def require(self, scope: Scope) -> None:
        """Raise `ForbiddenError` unless this caller's key has `scope`."""
        if scope not in self.scopes:
            raise ForbiddenError(
                f"key {self.name!r} may not do this: it needs the {scope.value!r} scope",
                details={"scope": scope.value},
            )


class Authenticator:
    """The keys of this server (empty: auth is off)."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = [(_digest(k.secret.encode()), k) for k in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def authenticate(self, authorization: str | bytes | None) -> Caller | None:
        """The caller an `Authorization: Bearer <key>` value names; None when auth is off;
        `UnauthorizedError` for a missing, malformed or unknown token."""
        if not self._keys:
            return None
        value = authorization.encode() if isinstance(authorization, str) else authorization
        scheme, _, token = (value or b"").strip().partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            raise UnauthorizedError("missing bearer token (Authorization: Bearer <key>)")
        digest = _digest(token.strip())
        found = None
        for known, key in self._keys:  # every key, no early exit: the same time for all
            if hmac.compare_digest(digest, known):
                found = key
        if found is None:
            raise UnauthorizedError("invalid bearer token")
        return Caller(found.name, found.scopes, found.tenant)

    def session(self, caller: Caller, lifetime: float) -> str:
        """A session cookie's value for `caller`, valid for `lifetime` seconds."""
        digest = next(d for d, key in self._keys if key.name == caller.name)
        claim = f"{caller.name}.{int(time.time() + lifetime)}"
        return f"{claim}.{_sign(digest, claim)}"

    def authenticate_session(self, value: str | None) -> Caller | None:
        """The caller a session cookie names; None when auth is off; `UnauthorizedError` for
        a missing, forged or expired one, or one whose key is gone."""
        if not self._keys:
            return None
        # `<key name>.<expires>.<signature>`: a key's name may hold dots, the others not.
        claim, _, signature = (value or "").rpartition(".")
        name, _, expires = claim.rpartition(".")
        for digest, key in self._keys:
            if key.name == name and hmac.compare_digest(_sign(digest, claim), signature):
                if not expires.isdigit() or int(expires) < time.time():
                    raise UnauthorizedError("the codec session has expired: sign in again")
                return Caller(key.name, key.scopes, key.tenant)
        raise UnauthorizedError(
            "missing bearer token or codec session (sign in to the console first)"
        )


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


def _sign(digest: bytes, claim: str) -> str:
    mac = hmac.new(digest, b"codec-session\x00" + claim.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def caller_from_scope(scope: AsgiScope) -> Caller | None:
    """The caller `BearerAuth` found for this request (None: auth is off)."""
    caller: Caller | None = scope.get("state", {}).get(CALLER_STATE)
    return caller


async def _caller(request: Request) -> Caller | None:
    return caller_from_scope(request.scope)


CallerDep = Annotated[Caller | None, Depends(_caller)]
"""A REST route's caller: `None` when auth is off."""


def requires(scope: Scope) -> Any:
    """A route dependency: 403 unless the caller's key has `scope` (nothing when auth is
    off)."""

    async def check(caller: CallerDep) -> None:
        if caller is not None:
            caller.require(scope)

    return Depends(check)


def caller_of(context: Any) -> Caller | None:
    """The caller of an A2A call, from its `ServerCallContext` (None: auth is off)."""
    state: dict[str, Any] = getattr(context, "state", None) or {}
    caller: Caller | None = state.get(CALLER_STATE)
    return caller


def tenancy_of(caller: Caller | None, named: str | None) -> Tenancy:
    """What a call of `caller` that names the tenant `named` (None or "": none) may see.

    A key acts in its own tenant: naming another is a `TenantNotFoundError` (404, as for
    another tenant's task). An `admin` key, or anyone with auth off, acts in the tenant it
    names (`default` when none), and its listings span every tenant while it names none."""
    named = named or None
    if named is not None and not valid_tenant(named):
        raise TenantNotFoundError(f"no tenant {named[:64]!r}")
    if caller is None or caller.admin:
        return Tenancy(named or DEFAULT_TENANT, everyone=named is None)
    if named is not None and named != caller.tenant:
        raise TenantNotFoundError(f"key {caller.name!r} may not act in tenant {named!r}")
    return Tenancy(caller.tenant)
