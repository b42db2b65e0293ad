"""Installing the previous release: a commit the repository lacks fails, saying what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.upgrade.release import ReleaseError, install, previous_commit


def test_a_missing_release_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"not in the git history .* `git fetch --unshallow`"):
        install("0" * 40, tmp_path)
    assert not (tmp_path / "ready").exists()


def test_the_release_file_names_one_commit(tmp_path: Path) -> None:
    named = tmp_path / "previous_release"
    named.write_text("# 0.1.0\n\n0f4e4ab\n", encoding="utf-8")
    assert previous_commit(named) == "0f4e4ab"
    named.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ReleaseError, match="expected one commit line"):
        previous_commit(named)
