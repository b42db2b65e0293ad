"""The fault suite (`pytest -m chaos`): every test here is marked `chaos`, and the session
ends with the table of scenarios → tasks, lost, duplicated events, duplicate side effects
(also written as JSON lines to `$TE_CHAOS_REPORT` when set)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.invariants import OUTCOMES

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.chaos)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not OUTCOMES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault scenarios")
    # deliveries: requests the side-effect tool got (retries included), each applied once.
    write(
        f"{'scenario':<42} {'tasks':>5} {'lost':>4} {'dup events':>10} {'dup effects':>11}"
        f" {'deliveries':>10}"
    )
    for o in OUTCOMES:
        write(
            f"{o.scenario:<42} {o.tasks:>5} {o.lost:>4} {o.duplicated_events:>10}"
            f" {o.duplicate_side_effects:>11} {o.deliveries:>10}"
        )
