"""Edited copies of real clips, built once per session into tmp (never into the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dflab.train.edits import Clip, read_clip

DRIVING = "liveportrait/assets/examples/driving/"


@pytest.fixture(scope="session")
def clip_reader(shared_data):
    cache: dict[tuple, Clip] = {}

    def read(rel: str, max_seconds: float = 8.0, max_side: int = 320) -> Clip:
        key = (rel, max_seconds, max_side)
        if key not in cache:
            cache[key] = read_clip(shared_data / rel, max_side=max_side, max_seconds=max_seconds)
        return cache[key]

    return read


@pytest.fixture(scope="session")
def shallow_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("shallow")
