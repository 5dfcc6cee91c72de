"""Hostile bytes: load() returns Media or raises DflabError, never another exception and never hangs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dflab.config import Limits, SamplingPolicy
from dflab.errors import DflabError
from dflab.media import load
from dflab.media.types import Media

# Small analysis size and frame cap: a mutated file that happens to decode stays cheap.
POLICY = SamplingPolicy(max_side=64)
LIMITS = Limits(max_analysis_frames=10, max_pixels=4_000_000)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure is reproducible, CI is not flaky
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _load_or_refuse(path: Path) -> None:
    try:
        media = load(path, policy=POLICY, limits=LIMITS)
    except DflabError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(media, Media)
    assert media.media_type in ("image", "video", "audio")
    for frame in media.frames:
        assert frame.rgb.ndim == 3 and frame.rgb.shape[2] == 3


@pytest.fixture(scope="module")
def seeds(shared_data: Path) -> dict[str, bytes]:
    """Small real files of each kind to mutate."""
    return {
        # d20.mp4 keeps its index first, so a 60 kB head still opens and decodes a few frames.
        "mp4": (shared_data / "liveportrait" / "assets" / "examples" / "driving" / "d20.mp4").read_bytes()[:60_000],
        "mp4_full": (shared_data / "ffpp" / "original_sequences" / "youtube" / "c23" / "videos" / "004.mp4").read_bytes(),
        "jpg": (shared_data / "dlib_faces" / "examples" / "faces" / "2008_001009.jpg").read_bytes(),
        "png": (shared_data / "cnndetection" / "crops" / "0_cyclegan_real.png").read_bytes(),
    }  # fmt: skip


@FUZZ
@given(data=st.binary(min_size=1, max_size=4096), suffix=st.sampled_from([".mp4", ".jpg", ".png", ".wav", ".bin"]))
def test_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    _load_or_refuse(path)


@FUZZ
@given(
    kind=st.sampled_from(["mp4", "mp4_full", "jpg", "png"]),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=24),
    cut=st.one_of(st.none(), st.floats(0.01, 1.0)),
)
def test_mutated_real_files(tmp_path, seeds, kind, edits, cut):
    data = bytearray(seeds[kind])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: max(1, int(cut * len(data)))]
    path = tmp_path / f"mutated_{kind}.bin"
    path.write_bytes(bytes(data))
    _load_or_refuse(path)


@settings(FUZZ, max_examples=30)
@given(edits=st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_headers(tmp_path, seeds, edits):
    """Flipping bytes in the first 64 bytes hits the sniffing and the container/IHDR parsing."""
    for kind in ("mp4", "png", "jpg"):
        data = bytearray(seeds[kind])
        for where, value in edits:
            data[where] = value
        path = tmp_path / f"header_{kind}"
        path.write_bytes(bytes(data))
        _load_or_refuse(path)
