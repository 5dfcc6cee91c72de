"""Frame-rate conversion against re-timing: which factors a conversion into the file's rate gives, and whether a
conversion (or footage converted as shot, then re-timed) explains a step sequence better than plain re-timing."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.shallow.rate_conversion import (
    conversion_explaining,
    conversion_steps,
    frame_rate_ratio,
    retimed_after_conversion,
)
from dflab.shallow.speed_video import STEP_LOCAL_FRAMES, fit_pattern, local_normalised, step_pattern

N = 299  # steps of a 10 s clip at 30 fps


def test_the_file_rate_pins_which_factors_a_conversion_gives():
    assert frame_rate_ratio(1.25, fps=30) is None and frame_rate_ratio(1.25, fps=25) is None  # 37.5 / 31.25 fps
    assert frame_rate_ratio(1.25, fps=24) == "30/24" and frame_rate_ratio(1.2, fps=25) == "30/25"
    assert frame_rate_ratio(25 / 30, fps=30) == "25/30" and frame_rate_ratio(0.75, fps=30) is None
    assert frame_rate_ratio(0.25, fps=60) == "15/60"  # 15 fps pictures (every frame doubled) in a 60 fps file
    assert frame_rate_ratio(1.25) is not None  # without the file's rate any pair of common rates counts (30/24)


def test_conversion_steps_count_the_source_frames():
    steps = conversion_steps(25.0, 30.0, 30.0, 30)  # one stage, 25 -> 30: 25 new pictures a second
    assert steps.shape[1] == 30 and set(np.unique(steps)) == {0.0, 1.0}
    assert np.all(np.abs(steps.sum(axis=1) - 25) <= 1)
    composed = conversion_steps(25.0, 30.0, 60.0, 60)  # 25 -> 30 as shot, then 30 -> 60
    assert np.all(np.abs(composed.sum(axis=1) - 25) <= 1) and (composed == 0).mean() > 0.5


def _observed(steps: np.ndarray, seed: int) -> np.ndarray:
    """Frame-to-frame change of footage moving at a wandering pace, with codec noise, as the estimator sees it."""
    rng = np.random.default_rng(seed)
    pace = 1.0 + 0.5 * np.sin(np.arange(len(steps)) / 17.0)
    change = steps * pace + rng.normal(0.0, 0.15, len(steps)) ** 2
    return local_normalised(change, STEP_LOCAL_FRAMES)


def _plain_fit(observed: np.ndarray) -> float:
    return fit_pattern(observed, step_pattern)[0]


def test_a_composed_conversion_explains_its_pattern():
    # footage at 25 fps put in a 30 fps file as shot (LivePortrait d6), then converted to 60 fps: the plain fit
    # reads a re-timing at a factor no single conversion gives, and the two stages explain it
    observed = _observed(conversion_steps(25.0, 30.0, 60.0, N)[17], seed=1)
    assert conversion_explaining(observed, 60.0, _plain_fit(observed), contrast=0.1) is not None


def test_no_conversion_explains_a_plain_retiming():
    observed = _observed(step_pattern(np.array([0.75]), np.array([0.3]), N)[0, 0], seed=2)  # 0.75x repeats
    assert conversion_explaining(observed, 30.0, _plain_fit(observed), contrast=0.05) is None
    drops = _observed(1.0 + step_pattern(np.array([0.25]), np.array([0.6]), N)[0, 0], seed=3)  # 1.25x drops
    assert conversion_explaining(drops, 30.0, _plain_fit(drops), contrast=0.55) is None


def test_retiming_of_footage_converted_as_shot_reads_its_factor():
    # 25 fps pictures in a 30 fps file, slowed to 0.75x at 30 fps: frame k shows file frame floor(0.75 k + ph)
    observed = _observed(conversion_steps(25.0 * 0.75, 0.75 * 30.0, 30.0, N)[40], seed=4)
    found = retimed_after_conversion(observed, 30.0, _plain_fit(observed))
    assert found is not None and found[0] == pytest.approx(0.75, abs=0.01) and found[1] == "25/30"
    plain = _observed(step_pattern(np.array([0.75]), np.array([0.3]), N)[0, 0], seed=5)
    assert retimed_after_conversion(plain, 30.0, _plain_fit(plain)) is None
