"""`ToolSpec`: a tool as a request (or `a2a.default_agent`) declares it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["TOOL_NAME_PATTERN", "ToolSpec"]

# What every provider accepts as a function name.
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class ToolSpec(BaseModel):
    """A tool the LLM may call; `type` picks the implementation, `config` is its settings
    (checked by that tool type, see `tools/base.py`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = Field(default="", max_length=8192)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    type: str = Field(default="http", min_length=1, max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type", "object") != "object":
            raise ValueError('must be a JSON Schema with "type": "object"')
        if "properties" in value and not isinstance(value["properties"], dict):
            raise ValueError('"properties" must be an object')
        return value
