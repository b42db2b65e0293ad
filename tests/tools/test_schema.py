"""Tool specs checked at submission: `parameters` must be valid JSON Schema, names must suit
every provider, and expansion must not produce two tools of the same name."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from temporal_executor.config import ToolsConfig
from temporal_executor.errors import ToolSpecError
from temporal_executor.tools import ToolRegistry, ToolSpec
from temporal_executor.tools.schema import check_parameters


def http_spec(parameters: dict[str, Any], name: str = "weather") -> ToolSpec:
    return ToolSpec(
        name=name, parameters=parameters, config={"endpoint": "https://api.example.com/w"}
    )


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "object", "properties": {}},
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "days": {"type": "integer", "minimum": 1, "maximum": 14},
                "units": {"enum": ["metric", "imperial"]},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            },
            "required": ["city"],
            "additionalProperties": False,
            "$defs": {"unused": {"type": "number"}},
        },
    ],
)
def test_valid_schemas_pass(parameters: dict[str, Any]) -> None:
    ToolRegistry(ToolsConfig()).validate([http_spec(parameters)])


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"type": "object", "properties": {"city": {"type": "strin"}}}, "properties.city.type"),
        ({"type": "object", "required": "city"}, "required"),
        ({"type": "object", "properties": {"n": {"minimum": "one"}}}, "properties.n.minimum"),
        (
            {"type": "object", "properties": {"t": {"type": "array", "items": [1]}}},
            "properties.t.items",
        ),
        ({"type": "object", "additionalProperties": "no"}, "additionalProperties"),
    ],
)
def test_an_invalid_schema_is_refused_naming_the_tool_and_path(
    parameters: dict[str, Any], field: str
) -> None:
    with pytest.raises(ToolSpecError) as refused:
        ToolRegistry(ToolsConfig()).validate([http_spec({}), http_spec(parameters, "bad_one")])
    message = refused.value.message
    assert message.startswith(f"tool 'bad_one': parameters.{field} is not valid JSON Schema")
    assert refused.value.details == {"tool": "bad_one", "field": f"parameters.{field}"}


def test_the_declared_dialect_is_used() -> None:
    draft7 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"xs": {"type": "array", "items": [{"type": "string"}]}},
    }
    check_parameters(http_spec(draft7))  # tuple `items` is fine in draft 7, not in 2020-12
    with pytest.raises(ToolSpecError, match=r"parameters\.properties\.xs\.items"):
        check_parameters(http_spec({k: v for k, v in draft7.items() if k != "$schema"}))


@pytest.mark.parametrize("name", ["get weather", "ünïcode", "a" * 65, "", "dots.not.allowed"])
def test_names_must_suit_every_provider(name: str) -> None:
    with pytest.raises(ValidationError, match="name"):
        http_spec({}, name=name)


async def test_expansion_must_not_produce_a_name_twice() -> None:
    registry = ToolRegistry(ToolsConfig())
    calculator = ToolSpec(name="calc", type="builtin", config={"tool": "calculator"})
    also = ToolSpec(name="calc", type="builtin", config={"tool": "current_time"})
    with pytest.raises(ToolSpecError, match="'calc' occurs twice"):
        await registry.expand([calculator, also])
