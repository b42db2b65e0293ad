"""The tool-type protocol: what every kind of tool (`http`, `mcp`, `builtin`, …) implements.

Contract:
- `config_model` types a spec's `config` (a pydantic model, unknown keys refused);
  `parse_config(spec)` reads it, raising `ToolSpecError` naming the tool and the field.
- `validate(spec)` runs at task submission, on the API, from config alone (no I/O), so a
  malformed tool is a 400 before any workflow starts. By default it parses the config.
- `side_effects(spec)`: whether a call may change something outside (a fork shows it for
  each step): yes, unless the spec says `read_only: true`; built-ins say it themselves.
- `call(spec, call)` runs one tool call on a worker and returns its result as text. It raises
  `ToolError`: with `retryable=True` for transient failures (Temporal tries again), otherwise
  the message goes back to the LLM as an error result. The tool call id is the idempotency
  key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import ToolSpecError
from ..spec import ToolSpec

if TYPE_CHECKING:
    from ..config import ToolsConfig
    from ..llm.messages import ToolCall

__all__ = ["AnyConfig", "ToolFile", "ToolOutput", "ToolType"]


@dataclass(frozen=True)
class ToolFile:
    """Something a call made besides its text: a file or an image (`content`), a link to
    one (`url`), or a structured value (`data`, media type `application/json`). `to_model`:
    the model is sent it too, as what it is (an image it should look at), when it reads
    that media type."""

    media_type: str
    name: str | None = None
    content: bytes | None = None
    url: str | None = None
    data: Any = None
    to_model: bool = False


@dataclass(frozen=True)
class ToolOutput:
    """A call's result: the text the model reads, and what else it made, in order."""

    text: str
    files: list[ToolFile] = field(default_factory=list)


class AnyConfig(BaseModel):
    """The `config` of a tool type that declares no model of its own: any keys."""

    model_config = ConfigDict(extra="allow")


ConfigModel = type[BaseModel]


class ToolType(ABC):
    """Base class of tool implementations; one instance per process and tool type."""

    type: ClassVar[str]
    config_model: ClassVar[ConfigModel] = AnyConfig

    def __init__(self, settings: ToolsConfig) -> None:
        self.settings = settings

    def parse_config(self, spec: ToolSpec) -> Any:
        """`spec.config` as `config_model`; `ToolSpecError` naming the tool and the field."""
        try:
            return self.config_model.model_validate(spec.config)
        except ValidationError as exc:
            raise ToolSpecError(f"tool {spec.name!r}: {_problem(exc, self.config_model)}") from None

    def validate(self, spec: ToolSpec) -> None:
        """Raise `ToolSpecError` if `spec.config` is unusable."""
        self.parse_config(spec)

    def expands(self, spec: ToolSpec) -> bool:
        """True when `spec` stands for several tools that `expand` lists (e.g. a whole MCP
        server); the workflow then expands it in an activity before the first LLM call."""
        return False

    async def expand(self, spec: ToolSpec) -> list[ToolSpec]:
        """The concrete tools `spec` stands for, with their schemas."""
        return [spec]

    def side_effects(self, spec: ToolSpec) -> bool:
        """Whether a call of `spec` may change something outside (no I/O)."""
        return not spec.read_only

    @abstractmethod
    async def call(self, spec: ToolSpec, call: ToolCall) -> str | ToolOutput:
        """Run one call and return its result (text, or text and files)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections or processes."""


def _problem(exc: ValidationError, model: ConfigModel) -> str:
    """The first problem, worded for a tool spec: `config.<key> <what is wrong>`."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"] if part != "[key]"]
    field = ".".join(["config", *loc])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(model.model_fields))
        return f"unknown config key {loc[-1]!r} (allowed: {allowed})"
    if error["type"] == "missing":
        return f"{field} is required"
    message = error["msg"].removeprefix("Value error, ")
    return message if message.startswith(field) else f"{field} {message}"
