"""Blinks found where a person counted them by eye (liveportrait d6, frames sampled at 10 fps).

By eye, in 12.0-18.0 s the eyes close fully at frames 126-127, 130-131, 150-151 and 156-157 (12.6, 13.0,
15.0-15.1 and 15.6 s) and half close at 173 (17.3 s); in 6.0-12.0 s they close fully at 69 and 73-75
(6.9 and 7.3-7.5 s).
"""

import numpy as np
import pytest

from dflab.detect.cues.blink import blink_stats, find_blinks
from dflab.faces import analyse
from dflab.media import load


@pytest.fixture(scope="module")
def d6_blinks(shared_data):
    media = load(shared_data / "liveportrait/assets/examples/driving/d6.mp4")
    track = max(analyse(media), key=len)
    return blink_stats(track)


def _inside(t, blinks):
    return any(a - 0.05 <= t <= b + 0.05 for a, b in blinks)


def test_full_blinks_counted_by_eye_are_found(d6_blinks):
    for t in (6.9, 7.3, 12.6, 13.0, 15.1, 15.6):
        assert _inside(t, d6_blinks.blinks), f"missed the blink at {t} s: {d6_blinks.blinks}"


def test_no_extra_blinks_in_a_window_counted_by_eye(d6_blinks):
    in_window = [b for b in d6_blinks.blinks if 12.0 <= b[0] < 18.0]
    assert 4 <= len(in_window) <= 5  # four full blinks and one half closure
    assert all(b - a <= 0.8 for a, b in d6_blinks.blinks)


def test_rate_is_within_human_range(d6_blinks):
    assert 10 <= d6_blinks.rate_per_min <= 40


def test_synthetic_series_known_answer():
    times = np.arange(100) / 10.0
    ear = np.full(100, 0.3)
    ear[20:22] = 0.08  # blink 1
    ear[50] = 0.1  # blink 2 (one frame)
    ear[70:75] = 0.22  # a squint: lowered but never closed
    ear[85:99] = 0.05  # closed for 1.4 s: eyes shut, not a blink
    open_level, blinks = find_blinks(times, ear)
    assert open_level == pytest.approx(0.3)
    assert blinks == [pytest.approx((2.0, 2.2)), pytest.approx((5.0, 5.1))]


@pytest.mark.parametrize(
    ("count", "words"),
    [(15, "within human norms"), (45, "frequent, as while talking"), (80, "unusually frequent")],
)
def test_sentence_follows_the_rate(count, words):
    from dflab.detect.cues.blink import BlinkStats, _score

    times = np.arange(600) / 10.0  # 60 s at 10 fps
    blinks = [(t, t + 0.2) for t in np.linspace(1.0, 58.0, count)]
    stats = BlinkStats(times, np.full(600, 0.3), 0.3, blinks, 59.9)
    score, _, text = _score(stats)
    assert words in text
    assert score == (0.65 if count == 80 else 0.4)
