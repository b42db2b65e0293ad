"""Config under garbage: the shipped config with one value replaced by a wrong one or an
unknown key added, text that is not YAML, random env overrides. Each either loads or is one
`ConfigError` line naming the key (never another exception); every command exits 2 with
that one line, without a traceback. Fixed seed, bounded count."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from temporal_executor.cli import main
from temporal_executor.config import load_config
from temporal_executor.errors import ConfigError

SHIPPED = Path(__file__).parent.parent / "config" / "temporal-executor.yaml"
BASE: dict[str, Any] = yaml.safe_load(SHIPPED.read_text())
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# `config <file>: <key>: <problem>`, or `environment variable <NAME>: <problem>`.
# A key part that is empty or holds spaces or colons is quoted: `temporal.' '`.
ONE_LINE = re.compile(
    r"^(config( \S+)?: (?P<key>([^:\s'\"]|'[^']*'|\"[^\"]*\")+): \S.*"
    r"|environment variable \S+: \S.*)$"
)


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, str(i)))
    return found


PATHS = _paths(BASE)
wrong_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=8), st.integers(), max_size=2),
)


def _node(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


def _set(data: Any, path: tuple[str, ...], value: Any) -> None:
    *parents, last = path
    data = _node(data, tuple(parents))
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


def _related(named: str, path: tuple[str, ...]) -> bool:
    """Whether the key an error names is the changed one, one inside it or one above it."""
    named = named.replace("'", "").replace('"', "")  # the quoting of odd parts
    changed = ".".join(path).replace("'", "").replace('"', "")
    return named == changed or named.startswith(changed + ".") or changed.startswith(named + ".")


def _load(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    load_config(path, env={})


@FUZZ
@given(path=st.sampled_from(PATHS), value=wrong_values, unknown=st.booleans())
def test_one_wrong_value_is_one_error_naming_it(
    tmp_path: Path, path: tuple[str, ...], value: Any, unknown: bool
) -> None:
    data = copy.deepcopy(BASE)
    if unknown:  # an unknown key beside the one picked (in a mapping)
        assume(isinstance(_node(data, path[:-1]), dict))
        path = (*path[:-1], "no_such_key")
    _set(data, path, value)
    try:
        _load(tmp_path, data)
    except ConfigError as exc:
        match = ONE_LINE.match(exc.message)
        assert match and match["key"], exc.message
        assert _related(match["key"], path), (path, exc.message)
    else:
        assert not unknown, f"unknown key {'.'.join(path)} accepted"


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(repr)))
def test_text_that_is_not_a_config_is_one_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path, env={})
    except ConfigError as exc:
        assert "\n" not in exc.message and exc.message.startswith("config"), exc.message


keys = st.sampled_from(sorted({p for path in PATHS for p in path} | {"", "x", "__", "0", "99"}))


@FUZZ
@given(
    segments=st.lists(keys, min_size=1, max_size=5),
    value=st.one_of(st.text(max_size=30), wrong_values.map(lambda v: yaml.safe_dump(v))),
)
def test_env_overrides_are_one_error(segments: list[str], value: str) -> None:
    name = "TEMPORAL_EXECUTOR__" + "__".join(s.upper() for s in segments)
    try:
        load_config(SHIPPED, env={name: value})
    except ConfigError as exc:
        assert ONE_LINE.match(exc.message), exc.message


COMMANDS = [
    ["dev"],
    ["serve"],
    ["worker"],
    ["run", "hello"],
    ["replay", "history.json"],
    ["approve", "some-task"],
    ["approvals"],
    ["answer", "some-task", "yes"],
]
PROBLEMS = {
    "not YAML": ("server: [port: 1\n", {}, "line"),
    "wrong type": ("server: {port: eighty}\n", {}, "server.port"),
    "unknown key": ("executor: {max_iteration: 3}\n", {}, "executor.max_iteration"),
    "bad override": ("", {"TEMPORAL_EXECUTOR__TOOLS__HTTP__TIMEOUT": "soon"}, "tools.http.timeout"),
}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("problem", PROBLEMS)
def test_every_command_exits_2_naming_the_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    problem: str,
) -> None:
    text, env, named = PROBLEMS[problem]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["--config", str(path), *command]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: config"), lines
    assert named in lines[0], lines


def test_the_process_exits_2(tmp_path: Path) -> None:
    """The same as a real process: its exit status, nothing but the line on stderr."""
    path = tmp_path / "config.yaml"
    path.write_text("a2a: {default_agent: {tools: 3}}\n")
    result = subprocess.run(
        [sys.executable, "-m", "temporal_executor", "--config", str(path), "run", "hi"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result
    assert result.stderr.startswith("error: config") and "a2a.default_agent.tools" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_section_that_is_not_a_mapping(tmp_path: Path) -> None:
    """Found by the fuzzing above: `llm: true` crashed the loader (AttributeError)."""
    for text in ("llm: true\n", "llm: [1]\n", "llm: {providers: 3}\n"):
        path = tmp_path / "config.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=r": llm"):
            load_config(path, env={})
