"""Window features after the common front end: equal windows, edges left out, finite features."""

import numpy as np

from dflab.audio.voice_features import EDGE_S, FEATURE_SETS, SAMPLE_RATE, WINDOW_S, speech_core, window_features, windows


def test_windows_are_equal_and_cover_the_clip():
    spans = windows(np.zeros(int(11.3 * SAMPLE_RATE)))
    assert {b - a for a, b in spans} == {int(WINDOW_S * SAMPLE_RATE)}
    assert spans[0][0] == 0 and spans[-1][1] == int(11.3 * SAMPLE_RATE)
    assert windows(np.zeros(SAMPLE_RATE)) == [(0, SAMPLE_RATE)]


def test_the_ends_of_a_clip_are_left_out():
    x = np.arange(10 * SAMPLE_RATE, dtype=np.float32)
    core = speech_core(x)
    assert core[0] == int(EDGE_S * SAMPLE_RATE) and len(core) == len(x) - 2 * int(EDGE_S * SAMPLE_RATE)
    short = np.zeros(int(1.8 * SAMPLE_RATE))
    assert len(speech_core(short)) == len(short)  # too short to spare its ends


def test_every_feature_set_is_finite():
    rng = np.random.default_rng(1)
    clip = (rng.standard_normal(9 * SAMPLE_RATE) * (1 + np.sin(np.linspace(0, 200, 9 * SAMPLE_RATE)))).astype(np.float32)
    for name in FEATURE_SETS:
        x = window_features(clip, name)
        assert x.ndim == 2 and x.shape[0] == len(windows(speech_core(clip))) and np.isfinite(x).all()
