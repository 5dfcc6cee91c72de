"""Fixtures for the media tests: paths into the real data set."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ffpp_videos(shared_data: Path) -> Path:
    return shared_data / "ffpp" / "original_sequences" / "youtube" / "c23" / "videos"


@pytest.fixture(scope="session")
def driving(shared_data: Path) -> Path:
    return shared_data / "liveportrait" / "assets" / "examples" / "driving"
