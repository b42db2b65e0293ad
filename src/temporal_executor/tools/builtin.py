"""`builtin` tools: small, safe, pure-Python functions that run inside the worker.

```json
{"name": "now", "type": "builtin", "config": {"tool": "current_time"}}
{"name": "calculator", "type": "builtin"}
```

`config.tool` names the built-in; without it the spec's own `name` does. A spec that leaves
`parameters` (or `description`) empty gets the built-in's own: `expands()` is true for it and
`expand()` returns it with them filled in, so the workflow's `expand_tools` step gives the LLM
the real schema. Arguments are checked against the built-in's schema before it runs.

Built in: `current_time` (an IANA timezone → date, time, weekday, UTC offset), `calculator`
(arithmetic on numbers: `+ - * / // % **`, parentheses and a few math functions, evaluated by
walking the syntax tree — never `eval` — with limits on length, size and exponents) and
`json_query` (`a.b[0]`, `items[*].name`, `["odd key"]` over a JSON document). Third parties add
their own through the entry point group `temporal_executor.builtin_tools`: the entry point's
name is the tool's name, its object a `Builtin` subclass.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ..errors import ToolError, ToolSpecError
from ..plugins import Plugins
from .base import ToolType
from .output import cap_output, compact_json
from .schema import argument_errors, is_empty_schema
from .spec import ToolSpec

if TYPE_CHECKING:
    from ..config import ToolsConfig
    from ..llm.messages import ToolCall

__all__ = [
    "BUILTINS",
    "Builtin",
    "BuiltinConfig",
    "BuiltinTool",
    "Calculator",
    "CurrentTime",
    "JsonQuery",
]

BUILTINS = Plugins(
    "temporal_executor.builtin_tools",
    {
        "current_time": ".tools.builtin:CurrentTime",
        "calculator": ".tools.builtin:Calculator",
        "json_query": ".tools.builtin:JsonQuery",
    },
)


def _builtin_name(value: object) -> object:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError("must be the name of a built-in tool")
    return value


class BuiltinConfig(BaseModel):
    """A `builtin` tool's `config`: which built-in (default: the spec's `name`)."""

    model_config = ConfigDict(extra="forbid")

    tool: Annotated[str | None, BeforeValidator(_builtin_name)] = None


class Builtin(ABC):
    """A built-in tool. `run` gets arguments already checked against `parameters` and returns
    text or any JSON value; it raises `ToolError` for a failure the LLM should read. One
    instance per worker; `run` may be called concurrently."""

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]

    @abstractmethod
    async def run(self, arguments: dict[str, Any]) -> Any:
        """Do the work; return a string or a JSON-serialisable value."""


class BuiltinTool(ToolType):
    """Runs the built-in named by a spec."""

    type = "builtin"
    config_model = BuiltinConfig

    def __init__(self, settings: ToolsConfig) -> None:
        super().__init__(settings)
        self._instances: dict[str, Builtin] = {}

    def validate(self, spec: ToolSpec) -> None:
        self._builtin(spec)

    def expands(self, spec: ToolSpec) -> bool:
        return is_empty_schema(spec.parameters) or not spec.description

    async def expand(self, spec: ToolSpec) -> list[ToolSpec]:
        builtin = self._builtin(spec)
        update: dict[str, Any] = {}
        if is_empty_schema(spec.parameters):
            update["parameters"] = builtin.parameters
        if not spec.description:
            update["description"] = builtin.description
        return [spec.model_copy(update=update, deep=True)]

    async def call(self, spec: ToolSpec, call: ToolCall) -> str:
        try:
            builtin = self._builtin(spec)
        except ToolSpecError as exc:
            raise ToolError(exc.message) from exc
        if call.arguments_error:
            raise ToolError(f"the arguments are not valid JSON: {call.arguments_error}")
        problem = argument_errors(builtin.parameters, call.arguments)
        if problem:
            raise ToolError(problem)
        result = await builtin.run(call.arguments)
        text = result if isinstance(result, str) else compact_json(result)
        return cap_output(text, self.settings.http.max_response_bytes)

    def _builtin(self, spec: ToolSpec) -> Builtin:
        where = f"tool {spec.name!r}"
        config: BuiltinConfig = self.parse_config(spec)
        name = config.tool or spec.name
        instance = self._instances.get(name)
        if instance is None:
            cls = BUILTINS.load(name)
            if cls is None:
                known = ", ".join(BUILTINS.names())
                raise ToolSpecError(f"{where}: unknown built-in tool {name!r} (known: {known})")
            if not (isinstance(cls, type) and issubclass(cls, Builtin)):
                raise ToolSpecError(f"{where}: built-in {name!r} is not a Builtin subclass")
            instance = self._instances[name] = cls()
        return instance


# --- current_time --------------------------------------------------------------------------


class CurrentTime(Builtin):
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
