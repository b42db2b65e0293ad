"""The base of everything a running task carries: what a release writes, the next decodes.

A task outlives the release that started it: its workflow input, the state it hands to its
next run, every activity input and result, every update, and the messages and results kept
in the store were written by the code of that day, and are decoded by whatever release is
running when the task goes on. So these models are `Payload`s, with three rules:

1. **Decoding is lenient.** Unknown keys are ignored (a newer release may have added them,
   an older one may have dropped them), never refused.
2. **Fields are only added, with defaults that keep the old behaviour.** A field is never
   renamed, removed, narrowed (to a type or bound some old value does not fit) without a
   migration; widening one (`int` to `int | None`) is fine.
3. **A change of shape or meaning is a new version.** The models a task's history holds at
   its top (workflow input, activity input and result, update argument) are `Versioned`:
   each is written with `v`, and `MIGRATIONS[n]` turns a version-n payload into version
   n + 1, step by step, as it is decoded. A payload without `v` was written before payloads
   had versions (release 0.1.0); `legacy_version` says which version its shape is. One that
   says a version newer than this code knows was written by a newer release: it is refused
   (Temporal retries the workflow task or activity, on a worker of that release).

Changes to the workflow's *steps* are gated apart from this (`workflow.patched`, or the
input's `v`), and `tests/replay/` replays every release's histories against this code.
What may go later: a migration and a gate stay while any release in `tests/replay/releases/`
needs them; the CHANGELOG says when a release's tasks stop being taken over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

__all__ = ["Migration", "Payload", "Versioned"]

Migration = Callable[[dict[str, Any]], dict[str, Any]]


class Payload(BaseModel):
    """A model a running task carries: unknown keys are ignored, as rule 1 says."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class Versioned(Payload):
    """A payload at the top of what history holds: written with its version `v`, migrated
    to this release's `VERSION` when decoded.

    Built by code, a payload is this release's version. Decoded from JSON (history, the
    store), a payload without `v` is from before versions: `legacy_version` tells."""

    VERSION: ClassVar[int] = 1
    MIGRATIONS: ClassVar[Mapping[int, Migration]] = {}

    v: int = 0  # set to VERSION by `_migrate` (the default only types the field)

    @classmethod
    def legacy_version(cls, data: dict[str, Any]) -> int:
        """The version of a payload written before payloads had versions (by its shape)."""
        return 1

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        version = data.get("v")
        if version is None:
            decoded = info.mode == "json" or (info.context or {}).get("decoding", False)
            version = cls.legacy_version(data) if decoded else cls.VERSION
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"v: not a payload version: {version!r}")
        if version > cls.VERSION:
            raise ValueError(
                f"{cls.__name__} v{version} was written by a newer release "
                f"(this one reads up to v{cls.VERSION})"
            )
        data = dict(data)
        while version < cls.VERSION:
            data = cls.MIGRATIONS[version](data)
            version += 1
        data["v"] = version
        return data
