"""The suite's own guarantees: no test or fixture touches the user's ~/.dflab."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def home_seen_by_a_session_fixture() -> str | None:
    return os.environ.get("DFLAB_HOME")


def test_session_fixtures_already_see_a_temporary_home(home_seen_by_a_session_fixture):
    # A function-scoped home alone is set up after session fixtures: they would have seen ~/.dflab.
    assert home_seen_by_a_session_fixture is not None
    assert "dflab_session_home" in home_seen_by_a_session_fixture
    assert Path(home_seen_by_a_session_fixture) != Path.home() / ".dflab"


def test_each_test_gets_its_own_home():
    from dflab.config import dflab_home

    assert dflab_home().name.startswith("dflab_home") and dflab_home() != Path.home() / ".dflab"
