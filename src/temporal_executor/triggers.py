"""Webhook triggers: a signed HTTP request that starts a task.

A trigger has a name, a template (an execute body whose `user_message` is a Jinja template of
the request's JSON `body`), the environment variable that holds its secret, and the session
its tasks take turns in (None: each task starts a session of its own). Triggers come from
config (`triggers.<name>`) or are made through the API and kept in the store (`Definitions`,
kind `trigger`); a name is one or the other.

A request is authenticated by the HMAC-SHA256 of its raw body with the secret, in
`X-Signature-256` or GitHub's `X-Hub-Signature-256` (`sha256=<hex>`), compared in constant
time; there is no bearer token on that route. Its delivery id (`X-Delivery-Id`, or GitHub's
`X-GitHub-Delivery`) names its task (`delivery_task_id`), so a delivery sent again (a retry,
a redelivery) is the task it started the first time, never a second one. The signature
covers the body, not the headers: the delivery id stops duplicates, not someone who holds a
signed body and sends it again with an id of their own.

The template is rendered in Jinja's immutable sandbox (no attribute of Python internals, no
changing the body, ranges bounded) with undefined names an error, so a body that lacks what
the template reads is refused (400) rather than sent to the model as blanks.

Tenants: a trigger belongs to one (its maker's, or the one config names), and so do the
tasks it starts: the webhook has no caller, the trigger says whose they are. Trigger names
are one namespace across tenants, as the webhook's URL names no tenant; another tenant's
trigger is not listed to a tenant, and a 404 when it deletes it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel

from .config import TriggerConfig
from .errors import (
    ConflictError,
    InvalidSignatureError,
    RequestError,
    TriggerNotFoundError,
    TriggerUnavailableError,
)
from .store import Definitions
from .tenants import DEFAULT_TENANT

logger = logging.getLogger(__name__)

__all__ = [
    "DELIVERY_HEADERS",
    "SIGNATURE_HEADERS",
    "TriggerDefinition",
    "TriggerService",
    "compile_template",
    "delivery_task_id",
    "render",
    "sign",
    "verify",
]

KIND = "trigger"
SIGNATURE_HEADERS = ("x-signature-256", "x-hub-signature-256")
DELIVERY_HEADERS = ("x-delivery-id", "x-github-delivery")
MAX_DELIVERY_ID = 256

_JINJA = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TriggerDefinition(BaseModel):
    """A trigger as its maker gave it (`session_id` as its tenant knows it); `source` says
    where it is defined."""

    name: str
    template: dict[str, Any]
    secret_env: str
    session_id: str | None = None
    tenant: str = DEFAULT_TENANT
    source: Literal["config", "api"] = "api"
    created_at: float | None = None


class TriggerService:
    """The triggers of config (`configured`) and of the store (`definitions`); secrets come
    from `environ` (the process's environment)."""

    def __init__(
        self,
        configured: Mapping[str, TriggerConfig],
        definitions: Definitions,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.configured = {
            name: TriggerDefinition(name=name, source="config", **dict(trigger))
            for name, trigger in configured.items()
        }
        self.definitions = definitions
        self.environ = environ

    async def get(self, name: str, tenant: str | None = None) -> TriggerDefinition:
        """The trigger `name` (of `tenant`; None: of any), or `TriggerNotFoundError`."""
        found = self.configured.get(name)
        if found is None:
            data = await self.definitions.get(KIND, name)
            found = None if data is None else TriggerDefinition.model_validate(data)
        if found is None or tenant not in (None, found.tenant):
            raise TriggerNotFoundError(f"no trigger named {name!r}")
        return found

    async def every(self, tenant: str | None) -> list[TriggerDefinition]:
        """The triggers of `tenant` (None: of every tenant): those of config, then those
        made through the API, oldest first."""
        stored = await self.definitions.every(KIND)
        found = [*self.configured.values(), *map(TriggerDefinition.model_validate, stored)]
        return [trigger for trigger in found if tenant in (None, trigger.tenant)]

    async def create(self, trigger: TriggerDefinition) -> TriggerDefinition:
        """Keep a trigger made through the API: `RequestError` unless its secret is in this
        process's environment, `ConflictError` when the name is taken."""
        self.secret(trigger, field="secret_env")
        trigger = trigger.model_copy(update={"source": "api", "created_at": time.time()})
        taken = ConflictError(f"a trigger named {trigger.name!r} exists already")
        if trigger.name in self.configured:
            raise taken
        if not await self.definitions.add(KIND, trigger.name, trigger.model_dump(mode="json")):
            raise taken
        return trigger

    async def delete(self, name: str, tenant: str) -> None:
        """Delete `tenant`'s trigger `name` (`ConflictError` for one of config)."""
        if (await self.get(name, tenant)).source == "config":
            raise ConflictError(f"trigger {name!r} is defined in config: remove it there")
        if not await self.definitions.delete(KIND, name):
            raise TriggerNotFoundError(f"no trigger named {name!r}")

    def secret(self, trigger: TriggerDefinition, *, field: str | None = None) -> bytes:
        """The trigger's secret from the environment. Missing: a `RequestError` naming
        `field` (making a trigger), else a `TriggerUnavailableError` (a delivery: this server
        lacks it, logged for the operator)."""
        value = self.environ.get(trigger.secret_env, "")
        if value:
            return value.encode()
        problem = f"the environment variable {trigger.secret_env} (the secret) is not set"
        if field is not None:
            raise RequestError(f"{field}: {problem} on this server", details={field: ""})
        logger.error("trigger %r: %s: its deliveries are refused (503)", trigger.name, problem)
        raise TriggerUnavailableError(
            f"trigger {trigger.name!r} cannot take deliveries: its secret is not set here"
        )


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for `body`: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, headers: Mapping[str, str]) -> None:
    """`InvalidSignatureError` unless a signature header holds `sign(secret, body)`."""
    given = next((headers[h] for h in SIGNATURE_HEADERS if headers.get(h)), None)
    if given is None:
        raise InvalidSignatureError(
            "no signature: send X-Signature-256 (or X-Hub-Signature-256): "
            "sha256=<hex HMAC-SHA256 of the body with the trigger's secret>"
        )
    if not hmac.compare_digest(given.strip().encode(), sign(secret, body).encode()):
        raise InvalidSignatureError("the signature does not match the body")


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """The request's delivery id, when it sent one."""
    found = next((headers[h] for h in DELIVERY_HEADERS if headers.get(h)), None)
    if found is not None and len(found) > MAX_DELIVERY_ID:
        raise RequestError(f"X-Delivery-Id: at most {MAX_DELIVERY_ID} characters")
    return found


def delivery_task_id(name: str, delivery: str | None) -> str:
    """The task of a delivery: one per (trigger, delivery id); a new one without an id."""
    if delivery is None:
        return f"{name}-{uuid.uuid4().hex[:20]}"
    return f"{name}-{hashlib.sha256(delivery.encode()).hexdigest()[:20]}"


@functools.lru_cache(maxsize=256)
def compile_template(text: str, field: str = "template.user_message") -> Template:
    """`text` as a sandboxed template; `RequestError` naming `field` and the line of a
    syntax error."""
    try:
        return _JINJA.from_string(text)
    except TemplateSyntaxError as exc:
        raise RequestError(
            f"{field}: line {exc.lineno}: {exc.message}", details={"line": exc.lineno}
        ) from None


def render(text: str, body: Any) -> str:
    """The user message: `text` rendered with `body` (the request's JSON)."""
    try:
        return compile_template(text).render(body=body)
    except TemplateError as exc:
        raise RequestError(
            f"body: the trigger's user_message template cannot be rendered with it: {exc}"
        ) from None
