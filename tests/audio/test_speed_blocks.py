"""Long recordings in bounded memory: blocks for the whole-recording features, the native-rate audio streamed."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.audio.rolling import RollingSamples
from dflab.audio.speed_blocks import WHOLE_MAX_S, block_ranges, combine_blocks, long_recording_speed
from dflab.audio.speed_features import FEATURE_NAMES


def test_rolling_samples_give_the_same_slices_as_the_whole_array():
    whole = np.arange(10_000, dtype=np.float32)
    chunks = [whole[a:b] for a, b in zip(range(0, 10_000, 733), range(733, 10_733, 733))]
    reader = RollingSamples(iter(chunks))
    for start, stop in [(0, 500), (100, 2_000), (1_500, 1_600), (5_000, 9_000), (8_000, 12_000)]:
        assert np.array_equal(reader.take(start, stop), whole[start:stop])
        reader.release_before(start)
    assert reader.take(11_000, 12_000).size == 0
    with pytest.raises(ValueError):
        reader.take(0, 10)  # released


def test_rolling_samples_hold_only_what_is_still_wanted():
    reader = RollingSamples(np.zeros(1_000, dtype=np.float32) for _ in range(1_000))  # 10^6 samples in chunks
    for start in range(0, 990_000, 5_000):
        reader.take(start, start + 10_000)
        reader.release_before(start + 5_000)
        assert sum(len(c) for c in reader._held) <= 11_000


def test_blocks_cover_the_recording_in_equal_parts_of_at_most_a_minute():
    assert block_ranges(50.0) == [(0.0, 50.0)]
    blocks = block_ranges(600.0)
    assert len(blocks) == 10 and blocks[0] == (0.0, 60.0) and blocks[-1][1] == 600.0
    blocks = block_ranges(95.0)
    assert len(blocks) == 2 and blocks[0][1] == pytest.approx(47.5)


def test_combined_features_are_medians_over_the_blocks_that_measured_them():
    a, b, c = ({name: float(i) for name in FEATURE_NAMES} for i in (1, 2, 9))
    b[FEATURE_NAMES[0]] = float("nan")
    combined = combine_blocks([a, b, c])
    assert combined[FEATURE_NAMES[0]] == 5.0  # median of 1 and 9, the NaN left out
    assert combined[FEATURE_NAMES[1]] == 2.0


@pytest.mark.slow
def test_long_recording_windows_match_the_whole_array_and_blocks_judge_like_it(shared_data):
    """Real speech (LivePortrait d6, 33.6 s) looped past WHOLE_MAX_S: the streamed native-rate audio gives every
    10 s window exactly the features the whole array gives, and the block estimate agrees with the whole one."""
    from dflab.audio.speed import SpeedModel, estimate_speed, speed_windows
    from dflab.media import load_audio
    from dflab.media.load import NATIVE_RATE

    path = shared_data / "liveportrait/assets/examples/driving/d6.mp4"
    reps = int(np.ceil((WHOLE_MAX_S + 5) / 33.0))
    speech = np.tile(load_audio(path).samples, reps)[: int((WHOLE_MAX_S + 5) * 16_000)]
    native_audio = load_audio(path, NATIVE_RATE)
    rate = native_audio.sample_rate
    native = np.tile(native_audio.samples, reps)[: int((WHOLE_MAX_S + 5) * rate)]
    model = SpeedModel.load()
    chunks = (native[i : i + 4_096] for i in range(0, len(native), 4_096))
    estimate, windows = long_recording_speed(speech, 16_000, model, chunks, rate)
    expected = speed_windows(speech, 16_000, model, native=(native, rate))
    assert [(w.start_s, w.end_s) for w in windows] == [(w.start_s, w.end_s) for w in expected]
    for got, want in zip(windows, expected):
        assert (got.estimate is None) == (want.estimate is None)
        if want.estimate is not None:
            np.testing.assert_array_equal(list(got.estimate.features.values()), list(want.estimate.features.values()))
    whole = estimate_speed(speech, 16_000, model, native=(native, rate))
    assert estimate.changed == whole.changed
    # the factor's own error is about 10 % (speakers differ by +-20 %); the blocks must not add more than that
    assert estimate.factor_estimate == pytest.approx(whole.factor_estimate, rel=0.10)
