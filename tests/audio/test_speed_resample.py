"""The "pitch/rate moved" signal for tape-style speed changes, on a speaker the shipped model never saw."""

import pytest

from dflab.audio.band_edge import band_edge
from dflab.audio.speed import SpeedModel, estimate_speed
from dflab.train.speed_testset import resample_speed

SPEAKER = "3080"  # left out of the shipped weights (speed_calibrate --fit-on all --hold-out 3080)


@pytest.fixture(scope="module")
def natural_and_slowed(speaker_audio):
    natural = speaker_audio(SPEAKER, 10.0)
    slowed = resample_speed(speaker_audio(SPEAKER, 7.5), 0.75)  # 7.5 s played at 0.75x: 10 s, pitch 5 st down
    return natural, slowed


@pytest.fixture(scope="module")
def half_speed(speaker_audio):
    return resample_speed(speaker_audio(SPEAKER, 5.0), 0.5)  # 5 s played at 0.5x: 10 s, an octave down


def test_slowing_by_resampling_moves_the_band_edge(natural_and_slowed):
    """A 16 kHz recording slowed to 0.75x has nothing above 6 kHz: a cliff of tens of dB at 0.75 x Nyquist."""
    natural, slowed = natural_and_slowed
    edge = band_edge(slowed, 16_000)
    assert edge["band_edge_fraction"] == pytest.approx(0.8, abs=0.07) and edge["band_edge_drop_db"] > 20
    assert band_edge(natural, 16_000)["band_edge_drop_db"] < 15


def test_tape_style_slowing_is_caught_and_the_natural_clip_is_not(natural_and_slowed, half_speed):
    """The resample classifier's threshold sits above every natural clip of speakers it did not see, so it
    only fires on clear cases (half speed here); the factor estimate follows the 0.75x clip all the same."""
    natural, slowed = natural_and_slowed
    model = SpeedModel.load()
    assert model.meta.get("command", "").endswith(f"--hold-out {SPEAKER} --out speed.json")
    half, slow, nat = (estimate_speed(x, model=model) for x in (half_speed, slowed, natural))
    assert half.p_resampled >= 0.5 and half.changed and half.factor_estimate < 0.6
    assert half.p_changed == max(half.p_method, half.p_resampled, half.p_grid)
    assert nat.p_resampled < 0.5 and not nat.changed
    assert slow.factor_estimate == pytest.approx(0.75, abs=0.08) and slow.p_resampled > nat.p_resampled
