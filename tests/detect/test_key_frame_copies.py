"""Small copies of a video's frames made during its first pass (detect/key_frame_copies.py): evenly spaced, bounded
in count whatever the length, at key-frame size; each key frame moves to the nearest of them (or of the frames the
prefetch holds), the strongest heat map's frame always itself; a scan's key frames need no second decode."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.detect.evidence import Evidence
from dflab.detect.key_frame_copies import KeyFrameCopies, key_frame_size
from dflab.detect.keyframes import KEY_FRAME_MAX_SIDE, key_frame_positions


class _Frame:
    """A decoded frame: full-size pixels, and the decoder's half-size copy (media/video.py) when `half`."""

    def __init__(self, pos: int, shape=(720, 1280), half: bool = True) -> None:
        self.rgb = np.full((*shape, 3), pos % 256, np.uint8)
        self.small = np.full((shape[0] // 2, shape[1] // 2, 3), pos % 256, np.uint8) if half else None


def _stream(copies: KeyFrameCopies, n: int, **frame_args) -> list[int]:
    return [id(f) for f in copies.stream(_Frame(p, **frame_args) for p in range(n))]


def test_a_foreseen_clip_keeps_every_stride_th_frame_at_key_frame_size():
    copies = KeyFrameCopies(expected_frames=300, max_side=KEY_FRAME_MAX_SIDE, budget=64)
    assert len(_stream(copies, 300)) == 300  # every frame passes through
    assert copies.stride == 5 and copies.positions() == set(range(0, 300, 5))
    copy = copies.get(35)
    assert copy.shape == (270, 480, 3) and (copy == 35).all()
    assert copies.get(36) is None


@pytest.mark.parametrize("n", [65, 1000, 5000])
def test_an_unforeseen_length_stays_within_the_budget_evenly_spaced(n: int):
    copies = KeyFrameCopies(expected_frames=0, max_side=KEY_FRAME_MAX_SIDE, budget=64)
    _stream(copies, n, shape=(64, 96))
    kept = sorted(copies.positions())
    assert len(kept) <= 64 and kept[0] == 0
    assert set(np.diff(kept)) == {copies.stride} and kept[-1] + copies.stride >= n  # no gap larger than the stride
    assert len(kept) > 32  # thinned only as far as needed


def test_small_frames_are_copied_from_their_own_pixels_never_enlarged():
    copies = KeyFrameCopies(expected_frames=10, max_side=KEY_FRAME_MAX_SIDE)
    _stream(copies, 10, shape=(240, 320), half=False)
    assert copies.get(3).shape == (240, 320, 3) and key_frame_size(240, 320, 480) == (320, 240)


def test_peaks_move_to_the_nearest_frame_at_hand_the_heat_map_frame_stays():
    scores = np.zeros(100)
    scores[[12, 47, 81]] = [0.9, 0.8, 0.7]
    mapped = Evidence("x", 0.8, 0.5, "x.", heatmap=np.zeros((4, 4)), heatmap_frame=33)
    at_hand = set(range(0, 100, 5))
    picks = key_frame_positions([mapped], scores, 100, 4, at_hand=at_hand)
    assert picks[0] == 33  # not at hand: still the heat map's own frame
    assert picks[1:] == [10, 45, 80]  # each peak (12, 47, 81) moved to the nearest frame at hand
    assert key_frame_positions([], np.zeros(0), 100, at_hand={5, 10}) == [5]  # nothing stands out: the first
    assert key_frame_positions([mapped], scores, 100, 4) == [33, 12, 47, 81]  # without: as before


def test_a_scans_key_frames_need_no_second_decode(shared_data):
    from dflab.detect.scanner import Scanner
    from dflab.media import frame_store

    redecoded = []
    original = frame_store.StreamedFrames.close

    def close(self):
        redecoded.append(self.redecoded)
        original(self)

    scanner = Scanner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_store.StreamedFrames, "close", close)
        result = scanner.scan(shared_data / "liveportrait/assets/examples/driving/d0.mp4")
    assert redecoded == [0]  # neither the prefetch pass nor the key frames decoded a frame again
    mapped = max((e for e in result.evidence if e.heatmap is not None and e.confidence > 0),
                 key=lambda e: e.score * e.confidence)  # fmt: skip
    assert result.key_frames[0].frame_pos == mapped.heatmap_frame
    for key in result.key_frames:
        assert max(key.width, key.height) <= KEY_FRAME_MAX_SIDE and key.rgb().shape == (key.height, key.width, 3)
