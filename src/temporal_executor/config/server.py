"""The API server (`server`): where it listens, its bearer keys and their scopes, its limits."""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import Field, field_validator

from ..tenants import RESERVED_TENANTS, valid_tenant
from .api_keys import KEY_NAME_PATTERN, ApiKey, Scope, parse_api_keys
from .duration import Duration
from .section import Section

__all__ = ["ServerConfig"]


class ServerConfig(Section):
    """The API server. Bearer keys come from the variable `api_keys_env` names (see
    `api_keys.py`: `name:key` or bare entries); `api_key_scopes` limits what a named key may
    do (`read`, `write`, `approve`, and `admin`: see every tenant); a key not listed there may
    do everything but `admin`. `api_key_tenants` puts a named key in a tenant (`tenants.py`):
    it sees only that tenant's tasks; a key not listed there is in `default`."""

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    api_keys_env: str | None = "TEMPORAL_EXECUTOR_API_KEYS"
    api_key_scopes: dict[str, list[Scope]] = Field(default_factory=dict)
    api_key_tenants: dict[str, str] = Field(default_factory=dict)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    sse_heartbeat: Duration = 15.0
    # A second listener (on `host`) with only `GET /readyz`, for platforms that probe
    # readiness on a port of their own (kagent's API-v2 runtimes: 8081).
    readiness_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("api_key_scopes", "api_key_tenants")
    @classmethod
    def _key_names(cls, by_key: dict[str, Any]) -> dict[str, Any]:
        for name in by_key:
            if not re.fullmatch(KEY_NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a key name (letters, digits, . _ -)")
        return by_key

    @field_validator("api_key_tenants")
    @classmethod
    def _tenant_names(cls, tenants: dict[str, str]) -> dict[str, str]:
        for key, tenant in tenants.items():
            if not valid_tenant(tenant):
                raise ValueError(
                    f"key {key!r}: {tenant!r} is not a tenant name (letters, digits, . _ -; "
                    f"at most 64; not {' or '.join(sorted(RESERVED_TENANTS))})"
                )
        return tenants

    def api_keys(self) -> list[ApiKey]:
        """The keys in the environment now (empty: auth is off)."""
        if not self.api_keys_env:
            return []
        raw = os.environ.get(self.api_keys_env, "")
        return parse_api_keys(raw, self.api_keys_env, self.api_key_scopes, self.api_key_tenants)
