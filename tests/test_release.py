"""Releases: one version in `pyproject.toml` and the package, an entry with upgrade notes per
release in CHANGELOG.md, and the build id every process reports (`--version`, `/readyz`,
`/metrics`, Worker Versioning): the same for every install of the same code, another when
the workflow code changes, the configured one when set."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from temporal_executor import __version__
from temporal_executor.build import WORKFLOW_CODE, default_build_id
from tests.conftest import config_data, running_stack
from tests.fakes.server import FakeServer

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "src" / "temporal_executor"


def build_info(exposition: str) -> list[tuple[dict[str, str], float]]:
    """The `executor_build_info` samples of a `/metrics` answer: labels and value."""
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(exposition)
        if family.name == "executor_build_info"
        for sample in family.samples
    ]


def test_one_version_and_a_changelog_entry_with_upgrade_notes() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == __version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, re.MULTILINE)
    assert releases[0] == __version__, "the newest entry is this version's"
    assert releases == sorted(releases, key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    for section in re.split(r"^## ", changelog, flags=re.MULTILINE)[1:]:
        if re.match(r"\[\d", section):
            assert "### Upgrading" in section, section.splitlines()[0]


def _version_line(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "temporal_executor", "--version", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        check=True,
    )
    return result.stdout.strip()


def test_version_prints_the_version_and_the_build_id() -> None:
    assert _version_line() == f"temporal-executor {__version__} (build {default_build_id()})"
    assert re.fullmatch(rf"{re.escape(__version__)}-[0-9a-f]{{12}}", default_build_id())
    override = {"TEMPORAL_EXECUTOR__TEMPORAL__DEPLOYMENT__BUILD_ID": "2026-12-09.3"}
    assert _version_line(env=override) == f"temporal-executor {__version__} (build 2026-12-09.3)"


def _build_id_of(package_parent: Path) -> str:
    """The default build id of the package copied under `package_parent`."""
    code = "from temporal_executor.build import default_build_id; print(default_build_id())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(package_parent)},
        cwd=package_parent,
        check=True,
    )
    return result.stdout.strip()


def test_build_id_is_the_same_for_the_same_code_and_changes_with_the_workflow(
    tmp_path: Path,
) -> None:
    ignore = shutil.ignore_patterns("__pycache__")
    same, changed, elsewhere = (tmp_path / n for n in ("same", "changed", "elsewhere"))
    for copy in (same, changed, elsewhere):
        shutil.copytree(PACKAGE, copy / "temporal_executor", ignore=ignore)
    # Another install of the same code (another path, compiled files or not): the same id.
    assert _build_id_of(same) == default_build_id()
    # A change outside the workflow code: the version says it.
    (elsewhere / "temporal_executor" / "api" / "routes.py").write_text("# changed\n")
    assert _build_id_of(elsewhere) == default_build_id()
    # A change to the workflow: another build, so Worker Versioning keeps them apart.
    assert WORKFLOW_CODE[0] == "workflows"
    steps = changed / "temporal_executor" / "workflows" / "steps.py"
    steps.write_text(steps.read_text() + "\n# a change\n")
    assert _build_id_of(changed) != default_build_id()
    assert _build_id_of(changed).startswith(f"{__version__}-")


async def test_a_configured_build_id_is_what_the_service_reports(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["temporal"]["deployment"] = {"build_id": "release-42"}  # no name: versioning off
    async with running_stack(data) as stack:
        ready = (await stack.http.get("/readyz")).json()
        assert (ready["version"], ready["build_id"]) == (__version__, "release-42")
        metrics = (await stack.http.get("/metrics")).text
        assert build_info(metrics) == [({"version": __version__, "build_id": "release-42"}, 1.0)]
        card = (await stack.http.get("/.well-known/agent-card.json")).json()
        assert card["version"] == __version__
