"""Shared fixtures. Real media is read in place from ../shared/data through `shared_data` only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    return Path(os.environ.get("DFLAB_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public media set (../shared/data, or $DFLAB_SHARED_DATA). Required in CI, skipped elsewhere."""
    path = _shared_data_dir()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing at {path}")
        pytest.skip(f"shared data not found at {path} (set DFLAB_SHARED_DATA)")
    return path


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keys, ledger and registry of a test never touch the user's ~/.dflab."""
    monkeypatch.setenv("DFLAB_HOME", str(tmp_path_factory.mktemp("dflab_home")))
