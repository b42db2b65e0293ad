"""Fixtures of the upgrade test: the previous release, installed (see `release.py`), and a
second OpenAI wire fake whose queue of canned replies only the continue-as-new chain uses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_fake import create_app as create_openai_app
from tests.fakes.server import FakeServer
from tests.upgrade.release import Release, ReleaseError, install, previous_commit


@pytest.fixture(scope="session")
def previous_release(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Release:
    """Installed once per commit into `.pytest_cache` (git-ignored), so that reruns reuse it;
    into a temporary directory under `-p no:cacheprovider`."""
    commit = previous_commit()
    cache = getattr(request.config, "cache", None)
    name = f"upgrade-{commit[:12]}"
    directory = cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)
    began = time.monotonic()
    try:
        release: Release | None = install(commit, Path(directory))
    except ReleaseError as exc:
        release, problem = None, str(exc)
    if release is None:  # (outside the handler: the failure shows without the exception)
        pytest.fail(problem, pytrace=False)
    print(f"previous release {release.version} ({commit[:12]}): {time.monotonic() - began:.1f} s")
    return release


@pytest.fixture
def chain_fake() -> Iterator[FakeServer]:
    """Per test: no canned reply a failed test left behind reaches the next one."""
    with FakeServer(create_openai_app(), path="/v1") as server:
        yield server
