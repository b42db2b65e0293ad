"""Webhook triggers named in config (`triggers.<name>`): a signed `POST
/api/v1/triggers/<name>` starts a task from the trigger's template.

The template is an execute body, checked when the API starts (as `POST /api/v1/execute`
checks one, against this config's providers and tools) rather than here: the workers load
the same file and never use it. The secret is never in the file: `secret_env` names the
environment variable that holds it, which the API process must have.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator

from ..tenants import DEFAULT_TENANT, valid_tenant
from .section import Section

__all__ = ["ENV_NAME_PATTERN", "NAME_PATTERN", "TriggerConfig", "Triggers"]

# A trigger's name (and a schedule's id): it is a path segment and the stem of task ids.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


class TriggerConfig(Section):
    """One trigger: `template` (an execute body whose `user_message` is a Jinja template of
    the request's JSON `body`), the variable holding its HMAC secret, the session its tasks
    take turns in (unset: each task starts a session of its own), and the tenant its tasks
    belong to (`tenants.py`)."""

    template: dict[str, Any]
    secret_env: str = Field(pattern=ENV_NAME_PATTERN)
    session_id: str | None = None
    tenant: str = DEFAULT_TENANT

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, tenant: str) -> str:
        if not valid_tenant(tenant):
            raise ValueError(f"{tenant!r} is not a tenant name (letters, digits, . _ -)")
        return tenant


def _names(triggers: dict[str, TriggerConfig]) -> dict[str, TriggerConfig]:
    for name in triggers:
        if not re.fullmatch(NAME_PATTERN, name):
            raise ValueError(f"{name!r} is not a trigger name (letters, digits, . _ -)")
    return triggers


Triggers = Annotated[dict[str, TriggerConfig], AfterValidator(_names)]
"""`triggers:` — by name."""
