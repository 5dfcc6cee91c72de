"""Small copies of a video's frames, kept while the first pass has them, so the key frames need no second decode.

The result keeps a few key frames (detect/keyframes.py: at most 6, at most KEY_FRAME_MAX_SIDE pixels). Their
positions come from the timeline and the strongest heat map, known only once the cues have run, after the first
pass; reading them from a streamed video decoded the clip again (~0.5 s of CPU for 10 s of 720p). `KeyFrameCopies`
keeps, while the face stage streams the clip, a copy at key-frame size of every `stride`-th frame (from the
decoder's half-size copy when the frame has one: no full-size RGB conversion), at most `budget` of them: when a
long clip would exceed it, the stride doubles and every other copy goes, so memory is flat in duration
(`budget` x 480 x 270 x 3 bytes, 25 MB at 16:9).

The key frames are then taken from the copies and from the frames the cues' prefetch still holds at full size
(keyframes.make_lean): each of the timeline's peaks moves to the nearest of those positions (at most half a
`stride` away), the strongest heat map's frame is always itself (read from the file when it is neither copied nor
held, as before).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

BUDGET = 64  # copies held at most: a 10 s 30 fps clip keeps every 5th frame


def key_frame_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(width, height) no larger than max_side on the longer side, aspect ratio kept; never enlarged."""
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def shrink(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`pixels` at (width, height) `size` by area averaging (the key frames' own resampling)."""
    import cv2

    if (pixels.shape[1], pixels.shape[0]) == size:
        return np.ascontiguousarray(pixels)
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


class KeyFrameCopies:
    """Wraps the face stage's frame stream (`stream`); `get(pos)` and `positions()` read the copies back."""

    def __init__(self, expected_frames: int, max_side: int, budget: int = BUDGET) -> None:
        self.max_side = max_side
        self.budget = max(1, budget)
        self.stride = max(1, math.ceil(expected_frames / self.budget)) if expected_frames > 0 else 1
        self._copies: dict[int, np.ndarray] = {}  # position -> pixels at key-frame size
        self.frame_shape: tuple[int, int] | None = None  # (height, width) of the analysis frames

    def stream(self, frames: Iterable) -> Iterator:
        for pos, frame in enumerate(frames):
            if pos % self.stride == 0:
                self._copy(pos, frame)
            yield frame

    def get(self, pos: int) -> np.ndarray | None:
        return self._copies.get(int(pos))

    def positions(self) -> set[int]:
        return set(self._copies)

    def __len__(self) -> int:
        return len(self._copies)

    def _copy(self, pos: int, frame) -> None:
        small = getattr(frame, "small", None)  # the decoder's half-size copy (media/video.py), when it made one
        if self.frame_shape is None:
            if small is not None:
                self.frame_shape = (small.shape[0] * 2, small.shape[1] * 2)  # half_size_from_planes: exact halves
            else:
                self.frame_shape = frame.rgb.shape[:2]
        size = self._size()
        source = small if small is not None and small.shape[1] >= size[0] and small.shape[0] >= size[1] else frame.rgb
        self._copies[pos] = shrink(source, size)
        while len(self._copies) > self.budget:
            self.stride *= 2  # a longer clip than foreseen: every other copy goes
            self._copies = {p: c for p, c in self._copies.items() if p % self.stride == 0}

    def _size(self) -> tuple[int, int]:
        height, width = self.frame_shape
        return key_frame_size(height, width, self.max_side)
