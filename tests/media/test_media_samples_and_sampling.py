"""`python -m dflab.samples` output, and the pure frame-sampling rules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dflab import samples
from dflab.config import Limits, SamplingPolicy
from dflab.errors import UsageError
from dflab.media import load
from dflab.media.sampling import FrameSelector, analysis_rate, analysis_scale, scaled_size


def test_samples_are_written_once_and_load(tmp_path):
    outdir = tmp_path / "samples"
    result = subprocess.run(
        [sys.executable, "-m", "dflab.samples", str(outdir)], capture_output=True, text=True, check=True
    )
    assert result.stdout.count("wrote ") == 3
    real = load(outdir / samples.REAL_NAME)
    fake = load(outdir / samples.FAKE_NAME)
    clip = load(outdir / samples.CLIP_NAME)
    assert real.media_type == fake.media_type == "image" and real.frames[0].rgb.shape == (512, 512, 3)
    # The fake differs from the real photo inside the face box only, with a hard step at its border.
    diff = np.abs(real.frames[0].rgb.astype(int) - fake.frames[0].rgb.astype(int)).sum(axis=2)
    x0, y0, x1, y1 = samples.FACE_BOX
    assert diff[y0 + 5 : y1 - 5, x0 + 5 : x1 - 5].mean() > 40
    outside = diff.copy()
    outside[y0 - 8 : y1 + 8, x0 - 8 : x1 + 8] = 0
    assert outside.mean() < 4
    assert clip.media_type == "video" and (clip.width, clip.height) == (640, 480)
    assert len(clip.frames) == 100 and clip.fps == pytest.approx(25.0)
    assert clip.audio is not None and clip.audio.duration_s == pytest.approx(4.0, abs=0.1)
    # The camera moves: first and last frames differ a lot, neighbours only a little.
    frames = [f.rgb.astype(int) for f in clip.frames]
    assert np.abs(frames[0] - frames[-1]).mean() > 20
    assert np.abs(frames[50] - frames[51]).mean() < np.abs(frames[0] - frames[-1]).mean() / 4
    before = {p.name: p.stat().st_mtime_ns for p in outdir.iterdir()}
    again = subprocess.run([sys.executable, "-m", "dflab.samples", str(outdir)], capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout.count("exists ") == 3
    assert {p.name: p.stat().st_mtime_ns for p in outdir.iterdir()} == before


def test_samples_refuse_a_file_as_outdir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError):
        samples.write_samples(blocker)
    assert samples.main([str(blocker)]) == 2


def test_rate_rules():
    policy, limits = SamplingPolicy(), Limits()
    assert analysis_rate(12.0, 25.0, policy, limits) is None  # short: every frame
    assert analysis_rate(33.6, 30.0, policy, limits) == 10.0  # long: policy rate
    assert analysis_rate(3600.0, 30.0, policy, limits) == pytest.approx(1800 / 3600)  # very long: frame cap
    assert analysis_rate(15.0, 240.0, policy, limits) == pytest.approx(1800 / 15)  # short but 240 fps
    assert analysis_rate(None, 30.0, policy, limits) is None  # unknown: decided while decoding
    assert analysis_rate(30.0, 5.0, policy, limits) is None  # policy rate above the source fps: every frame


def _kept(selector: FrameSelector, times) -> list[float]:
    return [t for t in times if selector.keep(t)]


def test_selector_takes_every_third_frame_for_10_of_30_fps():
    times = np.arange(90) / 30.0
    kept = _kept(FrameSelector(10.0, 1000, source_fps=30.0), times)
    assert len(kept) == 30 and np.allclose(np.diff(kept), 0.1)


def test_selector_tolerates_jittery_timestamps():
    rng = np.random.default_rng(0)
    times = np.arange(300) / 30.0 + rng.uniform(-0.004, 0.004, 300)
    kept = _kept(FrameSelector(10.0, 1000, source_fps=30.0), np.sort(times))
    assert len(kept) == 100


def test_selector_cap_and_unknown_length_switch():
    selector = FrameSelector(None, 5)
    assert _kept(selector, np.arange(10) / 10.0) == [0.0, 0.1, 0.2, 0.3, 0.4] and selector.full
    switching = FrameSelector(None, 1000, source_fps=25.0, switch_after_s=2.0, fallback_rate_fps=5.0)
    kept = _kept(switching, np.arange(100) / 25.0)  # 4 s: all of the first 2 s, then 5 fps
    assert len(kept) == 51 + 10


def test_scale_rules():
    assert analysis_scale(1280, 720, 1280) == 1.0
    assert analysis_scale(1920, 1080, 1280) == pytest.approx(2 / 3)
    assert scaled_size(1920, 1080, 2 / 3) == (1280, 720)
    assert analysis_scale(720, 1280, 640) == 0.5 and scaled_size(720, 1280, 0.5) == (360, 640)
