"""`builtin` tools: small, safe, pure-Python functions that run inside the worker.

```json
{"name": "now", "type": "builtin", "config": {"tool": "current_time"}}
{"name": "calculator", "type": "builtin"}
```

`config.tool` names the built-in; without it the spec's own `name` does. A spec that leaves
`parameters` (or `description`) empty gets the built-in's own: `expands()` is true for it and
`expand()` returns it with them filled in, so the workflow's `expand_tools` step gives the LLM
the real schema. Arguments are checked against the built-in's schema before it runs.

Built in (`builtin_tools.py`): `current_time`, `calculator`, `json_query`, and `ask_user`,
which the workflow answers itself: it parks the task until a person answers (see
`workflows/questions.py`). Third parties add
their own through the entry point group `temporal_executor.builtin_tools`: the entry point's
name is the tool's name, its object a `Builtin` subclass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ..errors import ToolError, ToolSpecError
from ..plugins import Plugins
from ..spec import ToolSpec
from .base import ToolType
from .output import cap_output, compact_json
from .schema import argument_errors, is_empty_schema

if TYPE_CHECKING:
    from ..config import ToolsConfig
    from ..llm.messages import ToolCall

__all__ = ["BUILTINS", "Builtin", "BuiltinConfig", "BuiltinTool"]

BUILTINS = Plugins(
    "temporal_executor.builtin_tools",
    {
        "current_time": ".tools.builtin_tools:CurrentTime",
        "calculator": ".tools.builtin_tools:Calculator",
        "json_query": ".tools.builtin_tools:JsonQuery",
        "ask_user": ".tools.builtin_tools:AskUser",
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
    # Whether its calls change nothing outside the worker (a third party's may well).
    read_only: ClassVar[bool] = False

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

    def side_effects(self, spec: ToolSpec) -> bool:
        try:
            return not (spec.read_only or self._builtin(spec).read_only)
        except ToolSpecError:
            return True

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
