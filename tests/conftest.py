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


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory):
    """DFLAB_HOME for the whole run, set before any other fixture: a session- or module-scoped fixture that
    makes keys, a ledger or a registry never touches the user's ~/.dflab either. (Autouse fixtures of the
    widest scope are set up first, and nothing else in the suite is session-scoped and autouse.)"""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DFLAB_HOME", str(tmp_path_factory.mktemp("dflab_session_home")))
        yield


@pytest.fixture(autouse=True)
def _isolated_home(_session_home, tmp_path_factory, monkeypatch):
    """Each test also gets a fresh, empty home of its own, so no test sees another's keys or ledger."""
    monkeypatch.setenv("DFLAB_HOME", str(tmp_path_factory.mktemp("dflab_home")))


SHARED_DATA_SKIP = "shared data"  # every skip for missing real media says this (see shared_data above)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how many tests did not run because real media was missing, and where that media comes from."""
    skipped = terminalreporter.stats.get("skipped", [])
    missing = sum(SHARED_DATA_SKIP in _skip_reason(r) for r in skipped)
    path = _shared_data_dir()
    where = f"{path}" if path.is_dir() else f"{path}, not found"
    terminalreporter.write_line(
        f"{missing} of {len(skipped)} skipped tests were skipped for missing shared data ({where}): the public "
        "media set that ../shared/data/README.md lists; set DFLAB_SHARED_DATA to use another folder.",
        yellow=bool(missing),
    )


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (file, line, "Skipped: reason")
        return str(longrepr[2])
    return str(longrepr)
