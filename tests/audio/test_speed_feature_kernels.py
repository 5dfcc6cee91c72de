"""The vectorised kernels of two speed features give the numbers of the plain per-frame / per-window code."""

import warnings

import numpy as np

from dflab.audio.artefacts import _best_repeats
from dflab.audio.band_edge import _side_medians


def test_side_medians_match_one_median_per_window():
    rng = np.random.default_rng(3)
    level = np.round(rng.standard_normal(900) * 20, 1)  # rounded: ties, where a median's averaging shows
    for near, far in ((6, 37), (1, 2), (3, 3)):  # (3, 3): empty side bands, NaN as np.median gives
        lo, hi = far + 2, len(level) - far - 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the median of an empty band
            below = [np.median(level[i - far : i - near]) for i in range(lo, hi)]
            above = [np.median(level[i + near : i + far]) for i in range(lo, hi)]
            got_below, got_above = _side_medians(level, lo, hi, near, far)
        assert np.array_equal(got_below, below, equal_nan=True)
        assert np.array_equal(got_above, above, equal_nan=True)


def test_best_repeats_is_the_best_normalised_correlation_over_allowed_lags():
    rng = np.random.default_rng(4)
    high = rng.standard_normal(4000)
    high[2000:2100] = high[1850:1950]  # a copy 150 samples back
    frame, max_lag, min_lag = 100, 300, 20
    starts = np.array([1000, 2000, 2500])
    best, own = _best_repeats(high, starts, frame, max_lag, min_lag)
    for s, b, o in zip(starts, best, own):
        cur = high[s : s + frame]
        corrs = [cur @ high[s - lag : s - lag + frame] / np.sqrt((cur @ cur) * (high[s - lag : s - lag + frame] @ high[s - lag : s - lag + frame]))
                 for lag in range(min_lag, max_lag + 1)]  # fmt: skip
        assert np.isclose(b, max(corrs), atol=1e-9)
        assert np.isclose(o, cur @ cur)
    assert best[1] > 0.999  # the copy is found
