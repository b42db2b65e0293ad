"""The built-in tools that ship with temporal-executor: `current_time` (an IANA timezone →
date, time, weekday, UTC offset), `calculator` (arithmetic on numbers: `+ - * / // % **`,
parentheses and a few math functions, evaluated by walking the syntax tree — never `eval` —
with limits on length, size and exponents) and `json_query` (`a.b[0]`, `items[*].name`,
`["odd key"]` over a JSON document), and `ask_user` (questions for a person: the workflow
parks the task until they are answered; it never runs here). See `builtin.py` for how they
are run.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ToolError
from .builtin import Builtin
from .output import compact_json

__all__ = ["AskUser", "Calculator", "CurrentTime", "JsonQuery", "evaluate", "query_json"]


# --- ask_user ------------------------------------------------------------------------------


class AskUser(Builtin):
    """Its schema and description are what the model sees; its calls are answered by the
    workflow (`workflows/questions.py`), so `run` is reached only by a call that bypassed it."""

    read_only = True
    name = "ask_user"
    description = (
        "Ask the user one or more questions and wait for the answers before going on: for "
        "missing details, a choice between options, or an explicit confirmation."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "questions": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "question": {"type": "string", "description": "The question to ask."},
                        "choices": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Answers to pick from; leave out for free text.",
                        },
                        "multiple": {
                            "type": "boolean",
                            "description": "Whether several choices may be picked (false).",
                        },
                    },
                    "required": ["question"],
                },
            }
        },
        "required": ["questions"],
    }

    async def run(self, arguments: dict[str, Any]) -> Any:
        raise ToolError("ask_user is answered by a person, through the task's workflow")


# --- current_time --------------------------------------------------------------------------


class CurrentTime(Builtin):
    read_only = True
    name = "current_time"
    description = "The current date and time in a timezone (IANA name, default UTC)."
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": "IANA timezone, e.g. Europe/Paris or America/New_York",
                "default": "UTC",
            }
        },
        "additionalProperties": False,
    }

    async def run(self, arguments: dict[str, Any]) -> Any:
        key = arguments.get("timezone") or "UTC"
        try:
            zone = ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            raise ToolError(
                f"unknown timezone {key!r}: use an IANA name such as Europe/Paris"
            ) from None
        now = datetime.now(zone)
        return {
            "timezone": key,
            "datetime": now.isoformat(timespec="seconds"),
            "day_of_week": now.strftime("%A"),
            "utc_offset": now.strftime("%z"),
            "unix": int(now.timestamp()),
        }


# --- calculator ----------------------------------------------------------------------------

MAX_EXPRESSION_CHARS = 1000
MAX_NODES = 300
MAX_EXPONENT = 10_000
MAX_INT_BITS = 4096
Number = int | float


def _power(base: Number, exponent: Number) -> Number:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"exponent too large (at most {MAX_EXPONENT})")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if base.bit_length() * exponent > MAX_INT_BITS:
            raise ToolError(f"result too large (more than {MAX_INT_BITS} bits)")
    result: Number = base**exponent
    if isinstance(result, complex):
        raise ToolError("the result is not a real number")
    return result


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Number]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


class Calculator(Builtin):
    read_only = True
    name = "calculator"
    description = (
        "Evaluate an arithmetic expression: numbers, + - * / // % ** and parentheses, "
        f"constants {', '.join(_CONSTANTS)}, functions {', '.join(_FUNCTIONS)}."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "description": "e.g. (2 + 3) * 4 ** 2 / sqrt(16)",
                "maxLength": MAX_EXPRESSION_CHARS,
            }
        },
        "required": ["expression"],
        "additionalProperties": False,
    }

    async def run(self, arguments: dict[str, Any]) -> Any:
        return str(evaluate(arguments["expression"]))


def evaluate(expression: str) -> Number:
    """The value of an arithmetic expression; `ToolError` for anything else."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not an arithmetic expression: {exc.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ToolError(f"expression too complex (more than {MAX_NODES} parts)")
    try:
        return _evaluate(tree.body)
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ToolError(f"cannot compute: {exc}") from None


def _evaluate(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return node.value
        raise ToolError(f"not a number: {node.value!r}")
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.BitXor):
            raise ToolError("^ is not a power here: use **")
        binary = _BINARY.get(type(node.op))
        if binary is None:
            raise ToolError(f"unsupported operator {type(node.op).__name__}")
        return _checked(binary(_evaluate(node.left), _evaluate(node.right)))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        function = _FUNCTIONS.get(node.func.id)
        if function is None or node.keywords:
            raise ToolError(f"unknown function {node.func.id!r}")
        return _checked(function(*(_evaluate(arg) for arg in node.args)))
    raise ToolError(f"unsupported syntax: {ast.unparse(node)[:80]!r}")


def _checked(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError(f"result too large (more than {MAX_INT_BITS} bits)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is not a finite number")
    return value


# --- json_query ----------------------------------------------------------------------------

MAX_QUERY_CHARS = 1000
_STEP = re.compile(
    r"""\s*(?:
        \[\s*(?P<index>-?\d+)\s*\]                     # [3]  [-1]
      | \[\s*(?P<quote>["'])(?P<key>.*?)(?P=quote)\s*\] # ["odd key"]
      | \[\s*\*\s*\]                                   # [*]
      | \.?(?P<name>[^.\[\]\s"']+)                     # .name  name  .*
    )""",
    re.VERBOSE,
)
_WILDCARD = object()


class JsonQuery(Builtin):
    read_only = True
    name = "json_query"
    description = (
        "Select part of a JSON document with a path: a.b, a[0], a[-1], "
        'items[*].name (every item), ["key with spaces"]; an empty path is the whole document.'
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "document": {"description": "the JSON document (a value, or a string of JSON)"},
            "query": {"type": "string", "maxLength": MAX_QUERY_CHARS},
        },
        "required": ["document", "query"],
        "additionalProperties": False,
    }

    async def run(self, arguments: dict[str, Any]) -> Any:
        document = arguments["document"]
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                pass
        # Always JSON, so that the string "1" and the number 1 read differently.
        return compact_json(query_json(document, arguments["query"]))


def query_json(document: Any, query: str) -> Any:
    """The value at `query` in `document`; a list when the path has a wildcard."""
    steps = _parse_query(query)
    values, projected = [document], False
    where = "$"
    for step in steps:
        found: list[Any] = []
        for value in values:
            found += _step(value, step, where, lenient=projected)
        projected = projected or step is _WILDCARD
        where += (
            "[*]" if step is _WILDCARD else f"[{step}]" if isinstance(step, int) else f".{step}"
        )
        values = found
    return values if projected else values[0]


def _parse_query(query: str) -> list[Any]:
    text = query.strip().removeprefix("$")
    steps: list[Any] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or match.end() == position:
            raise ToolError(f"cannot read the query at position {position}: {text[position:]!r}")
        position = match.end()
        if match["index"] is not None:
            steps.append(int(match["index"]))
        elif match["quote"] is not None:
            steps.append(match["key"])
        elif match["name"] is not None and match["name"] != "*":
            name = match["name"]
            steps.append(int(name) if re.fullmatch(r"-?\d+", name) else name)
        else:
            steps.append(_WILDCARD)
    return steps


def _step(value: Any, step: Any, where: str, *, lenient: bool) -> list[Any]:
    """What one step selects from `value`; in a projection, misses are skipped."""
    if step is _WILDCARD:
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, list):
            return list(value)
    elif isinstance(value, dict):
        key = str(step)
        if key in value:
            return [value[key]]
        if not lenient:
            raise ToolError(f"no key {key!r} at {where}")
        return []
    elif isinstance(value, list) and isinstance(step, int):
        if -len(value) <= step < len(value):
            return [value[step]]
        if not lenient:
            raise ToolError(f"index {step} out of range at {where} (length {len(value)})")
        return []
    if lenient:
        return []
    kind = "null" if value is None else type(value).__name__
    raise ToolError(f"cannot select {step!r} from the {kind} value at {where}")
