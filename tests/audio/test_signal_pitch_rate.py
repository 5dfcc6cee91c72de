"""Loudness, YIN pitch and speaking-rate features on synthetic and real speech."""

import numpy as np
import pytest

from dflab.audio.pitch import pitch_statistics, yin
from dflab.audio.signal import active_mask, frame_rms_db, normalise_loudness
from dflab.audio.speed_features import FEATURE_NAMES, feature_vector, speed_features
from dflab.errors import BadMedia
from dflab.train.speed_testset import resample_speed

SR = 16_000


def test_loudness_normalisation_removes_level_differences(speaker_audio):
    speech = speaker_audio("3080", 8)
    quiet, loud = normalise_loudness(0.02 * speech, SR), normalise_loudness(0.6 * speech, SR)
    levels = []
    for x in (quiet, loud):
        db = frame_rms_db(x, SR)
        levels.append(10 * np.log10(np.mean(10 ** (db[active_mask(db)] / 10))))
    assert abs(levels[0] - levels[1]) < 0.5
    assert abs(levels[0] - (-23.0)) < 1.0


def test_loudness_normalisation_in_blocks_gives_the_whole_recording_values(speaker_audio, monkeypatch):
    # The gain is applied a block at a time (bounded memory); a quiet start, a louder end and a few clipping
    # clicks across several blocks give exactly what scaling and clipping the whole recording in float64 gives.
    import dflab.audio.signal as signal

    speech = speaker_audio("3080", 8)
    samples = np.concatenate([0.05 * speech, 3.0 * speech]).astype(np.float32)
    samples[SR * 12 : SR * 12 + 40] = 30.0  # clicks far above the speech
    level = frame_rms_db(samples, SR)
    active_db = 10.0 * np.log10(np.mean(10.0 ** (level[active_mask(level)] / 10.0)))
    whole = np.clip(samples * 10.0 ** ((-23.0 - active_db) / 20.0), -1.0, 1.0).astype(np.float32)
    monkeypatch.setattr(signal, "GAIN_BLOCK_SAMPLES", 12_345)
    blocks = normalise_loudness(samples, SR)
    assert blocks.dtype == np.float32 and np.array_equal(blocks, whole)
    assert np.abs(blocks).max() == 1.0  # the clicks clip


def test_silence_is_bad_media():
    with pytest.raises(BadMedia):
        normalise_loudness(np.zeros(SR * 3, np.float32), SR)


def test_yin_finds_a_known_f0():
    t = np.arange(SR * 2) / SR
    tone = sum(np.sin(2 * np.pi * 140.0 * k * t) / k for k in range(1, 6)).astype(np.float32)
    tone += 0.01 * np.random.default_rng(0).standard_normal(len(t)).astype(np.float32)
    track = yin(0.3 * tone, SR)
    assert track.voiced.mean() > 0.9
    assert abs(np.nanmedian(track.f0_hz) - 140.0) < 1.5


@pytest.mark.parametrize("speaker", ["3080", "533"])
def test_tape_speed_up_raises_f0_by_the_factor(speaker_audio, speaker):
    speech = speaker_audio(speaker, 21)
    base = pitch_statistics(yin(speech[: 10 * SR], SR))["f0_median_st"]
    faster = pitch_statistics(yin(resample_speed(speech, 1.25)[: 10 * SR], SR))["f0_median_st"]
    assert faster - base == pytest.approx(12 * np.log2(1.25), abs=1.0)  # 3.86 semitones


def test_tape_speed_up_raises_the_speaking_rate(speaker_audio):
    speech = speaker_audio("367", 21)
    base, doubled = speed_features(speech[: 10 * SR]), speed_features(resample_speed(speech, 2.0)[: 10 * SR])
    assert 1.3 < doubled["syllable_rate"] / base["syllable_rate"] < 2.5
    assert doubled["articulation_rate"] > base["articulation_rate"]


def test_feature_vector_is_complete_and_finite_on_speech(speaker_audio):
    vec = feature_vector(speed_features(speaker_audio("2414", 10)))
    assert vec.shape == (len(FEATURE_NAMES),)
    assert np.isfinite(vec).all()


def test_too_short_audio_is_refused():
    with pytest.raises(BadMedia):
        speed_features(np.zeros(SR, np.float32))
