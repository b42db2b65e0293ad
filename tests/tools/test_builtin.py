"""Built-in tools: the registry, argument checks, and the three tools themselves."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest

from temporal_executor.config import HttpToolConfig, ToolsConfig
from temporal_executor.errors import ToolError, ToolSpecError
from temporal_executor.llm import ToolCall
from temporal_executor.tools import ToolRegistry, ToolSpec
from temporal_executor.tools.builtin import BUILTINS, Builtin, BuiltinTool


def builtin(name: str = "calc", tool: str | None = "calculator", **fields: Any) -> ToolSpec:
    config = {"tool": tool} if tool else {}
    return ToolSpec(name=name, type="builtin", config=config, **fields)


async def run(tool: str, settings: ToolsConfig | None = None, **arguments: Any) -> str:
    builtins = BuiltinTool(settings or ToolsConfig())
    return await builtins.call(
        builtin(tool=tool), ToolCall(id="call-1", name=tool, arguments=arguments)
    )


# --- the registry --------------------------------------------------------------------------


def test_side_effects_by_tool_type_and_read_only() -> None:
    """HTTP tools may change something outside unless their spec says `read_only` (MCP
    tools too: test_mcp.py); the built-ins declare that they do not (a fork's steps show it)."""
    registry = ToolRegistry(ToolsConfig())
    http = ToolSpec(name="pay", type="http", config={"endpoint": "http://127.0.0.1:9/pay"})
    assert registry.side_effects(http)
    assert not registry.side_effects(http.model_copy(update={"read_only": True}))
    for name in ("calculator", "current_time", "json_query", "ask_user"):
        assert not registry.side_effects(builtin(name, tool=None)), name
    assert registry.side_effects(builtin(tool="no_such_builtin"))
    assert registry.side_effects(ToolSpec(name="x", type="no_such_type"))


def test_unknown_builtins_are_refused_at_submission() -> None:
    registry = ToolRegistry(ToolsConfig())
    registry.validate([builtin(tool="calculator"), builtin("current_time", tool=None)])
    with pytest.raises(
        ToolSpecError, match=r"unknown built-in tool 'shell' \(known: ask_user, calculator"
    ):
        registry.validate([builtin(tool="shell")])
    with pytest.raises(ToolSpecError, match="unknown built-in tool 'calc'"):
        registry.validate([builtin(tool=None)])  # no config.tool: the spec's name is used
    with pytest.raises(ToolSpecError, match="unknown config key 'timeout'"):
        registry.validate([ToolSpec(name="x", type="builtin", config={"timeout": 3})])


async def test_a_spec_without_parameters_expands_to_the_builtins_schema() -> None:
    registry = ToolRegistry(ToolsConfig())
    bare = builtin("calc")
    assert registry.expands([bare])
    [expanded] = await registry.expand([bare])
    assert expanded.name == "calc"
    assert expanded.parameters["required"] == ["expression"]
    assert expanded.description.startswith("Evaluate an arithmetic expression")

    described = builtin("calc", description="Do sums", parameters=expanded.parameters)
    assert not registry.expands([described])
    assert await registry.expand([described]) == [described]


async def test_arguments_are_checked_against_the_builtins_schema() -> None:
    with pytest.raises(ToolError, match="invalid arguments: 'expression' is a required property"):
        await run("calculator")
    with pytest.raises(ToolError, match=r"invalid arguments\.expression: 12 is not of type"):
        await run("calculator", expression=12)


async def test_third_parties_add_builtins_through_an_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Shout(Builtin):
        name = "shout"
        description = "Upper-case a text."
        parameters: ClassVar[dict[str, Any]] = {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        }

        async def run(self, arguments: dict[str, Any]) -> Any:
            return {"text": arguments["text"].upper()}

    # What an installed distribution's `[project.entry-points."temporal_executor.builtin_tools"]`
    # table amounts to: a name in the group that loads the class.
    class Entry:
        name = "shout"

        def load(self) -> type[Builtin]:
            return Shout

    monkeypatch.setattr("temporal_executor.plugins._entry_points", lambda group: {"shout": Entry()})
    assert "shout" in BUILTINS.names()
    assert await run("shout", text="hi") == '{"text":"HI"}'


# --- current_time --------------------------------------------------------------------------


async def test_current_time_in_a_timezone() -> None:
    result = json.loads(await run("current_time", timezone="Asia/Kolkata"))
    assert result["timezone"] == "Asia/Kolkata"
    assert result["utc_offset"] == "+0530"
    now = datetime.fromisoformat(result["datetime"])
    assert now.utcoffset() == timedelta(hours=5, minutes=30)
    assert abs(now.timestamp() - datetime.now().timestamp()) < 5
    assert json.loads(await run("current_time"))["timezone"] == "UTC"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime"])
async def test_current_time_refuses_unknown_timezones(zone: str) -> None:
    with pytest.raises(ToolError, match="unknown timezone"):
        await run("current_time", timezone=zone)


# --- calculator ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        ("1 + 2 * 3", "7"),
        ("(2 + 3) * 4 ** 2 / sqrt(16)", "20.0"),
        ("7 // 2 + 7 % 2", "4"),
        ("-2 ** 2", "-4"),
        ("max(1, 5, 3) - abs(-2)", "3"),
        ("round(pi, 4)", "3.1416"),
        ("2 ** 64", "18446744073709551616"),
    ],
)
async def test_calculator(expression: str, result: str) -> None:
    assert await run("calculator", expression=expression) == result


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "division by zero"),
        ("2 ** 100000", "exponent too large"),
        ("9 ** 9 ** 9", "exponent too large"),
        ("(10 ** 1000) ** 5", "result too large"),
        ("2 ^ 3", r"use \*\*"),
        ("__import__('os').system('true')", "unsupported syntax"),
        ("__import__('os')", "unknown function '__import__'"),
        ("().__class__", "unsupported syntax"),
        ("open('x')", "unknown function 'open'"),
        ("'a' * 3", "not a number"),
        ("[1, 2]", "unsupported syntax"),
        ("sqrt(-1)", "math domain error"),
        ("1e308 * 10", "not a finite number"),
        ("1 +", "not an arithmetic expression"),
        ("+".join(["1"] * 400), "too complex"),
    ],
)
async def test_calculator_refuses_what_is_not_safe_arithmetic(
    expression: str, message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        await run("calculator", expression=expression)


# --- json_query ----------------------------------------------------------------------------

DOCUMENT = {
    "store": {"books": [{"title": "A", "price": 8}, {"title": "B", "price": 12}, {"isbn": "x"}]},
    "odd key.with dots": True,
}


@pytest.mark.parametrize(
    ("query", "result"),
    [
        ("store.books[0].title", "A"),
        ("$.store.books[-1]", {"isbn": "x"}),
        ("store.books[*].title", ["A", "B"]),
        ("store.books.*.price", [8, 12]),
        ("store.books.1.price", 12),
        ('["odd key.with dots"]', True),
        ("", DOCUMENT),
    ],
)
async def test_json_query(query: str, result: Any) -> None:
    assert json.loads(await run("json_query", document=DOCUMENT, query=query)) == result


async def test_json_query_reads_a_document_given_as_json_text() -> None:
    text = json.dumps(DOCUMENT)
    assert await run("json_query", document=text, query="store.books[1].title") == '"B"'


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("store.shelves", r"no key 'shelves' at \$\.store"),
        ("store.books[7]", r"index 7 out of range at \$\.store\.books \(length 3\)"),
        ("store.books[0].title.x", "cannot select 'x' from the str value"),
        ("store..books", "cannot read the query at position 5"),
        ("store.books[", "cannot read the query"),
    ],
)
async def test_json_query_explains_a_miss(query: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await run("json_query", document=DOCUMENT, query=query)


async def test_builtin_output_is_capped() -> None:
    settings = ToolsConfig(http=HttpToolConfig(max_response_bytes=100))
    text = await run("json_query", settings, document={"a": "z" * 500}, query="a")
    assert text.startswith('"' + "z" * 99)
    assert text.endswith("[output truncated: 402 more bytes]")
