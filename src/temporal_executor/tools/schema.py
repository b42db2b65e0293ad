"""JSON Schema checks: a tool's `parameters` at submission, a call's arguments at call time.

`parameters` must be a valid JSON Schema — checked against the meta-schema of the dialect it
names in `$schema`, Draft 2020-12 when it names none — so that a typo such as
`"type": "strin"` is a 400 naming the tool and the path, not a provider error mid-task.
(Tool names are checked by the `ToolSpec` model: `^[A-Za-z0-9_-]{1,64}$`, which every
provider accepts.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

# jsonschema ships no type information (types-jsonschema would be one more test dependency).
from jsonschema import Draft202012Validator, validators  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from ..errors import ToolSpecError
from ..spec import ToolSpec

__all__ = ["argument_errors", "check_parameters", "is_empty_schema"]

_MESSAGE_CHARS = 300


def check_parameters(spec: ToolSpec) -> None:
    """Raise `ToolSpecError` naming the tool and the offending path when `spec.parameters` is
    not a valid JSON Schema."""
    problem = _schema_problem(json.dumps(spec.parameters, sort_keys=True))
    if problem is not None:
        field, message = problem
        raise ToolSpecError(
            f"tool {spec.name!r}: {field} is not valid JSON Schema: {message}",
            details={"tool": spec.name, "field": field},
        )


@lru_cache(maxsize=1024)
def _schema_problem(schema_json: str) -> tuple[str, str] | None:
    """Where and why a schema (as canonical JSON) is not valid JSON Schema, or None. Cached:
    the same tools come with request after request, and checking one against the
    meta-schema was a tenth of the API's CPU."""
    schema = json.loads(schema_json)
    cls = validators.validator_for(schema, default=Draft202012Validator)
    error = best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    if error is None:
        return None
    return "parameters" + _path(error.absolute_path), _short(error.message)


def argument_errors(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """Why `arguments` do not match `schema` (a message for the LLM), or None."""
    cls = validators.validator_for(schema, default=Draft202012Validator)
    error = best_match(cls(schema).iter_errors(arguments))
    if error is None:
        return None
    where = "arguments" + _path(error.absolute_path)
    return f"invalid {where}: {_short(error.message)}"


def is_empty_schema(parameters: dict[str, Any]) -> bool:
    """Whether a spec left `parameters` at its default (an object without properties), so a
    tool type may fill in the real schema when it expands the spec."""
    return set(parameters) <= {"type", "properties"} and not parameters.get("properties")


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _short(message: str) -> str:
    return message if len(message) <= _MESSAGE_CHARS else message[:_MESSAGE_CHARS] + "…"
