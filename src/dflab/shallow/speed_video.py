"""Playback speed from the frames alone: slowed video repeats or blends frames.

Slowing a clip to factor r at an unchanged frame rate needs 1/r output frames per source frame; editors
either repeat frames (nearest-frame retiming) or blend neighbours (frame blending). Either way, a share of
about 1 - r of the frames carries no new motion: a repeated frame differs from its predecessor by little
more than codec noise, a blended one is the average of its neighbours. Natural footage of a talking
person has neither in any number. Speeding up drops frames, which leaves no such trace, so the video
estimator only speaks for slowed clips (and says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THUMB = 64  # frames are compared as 64x64 grey thumbnails: motion, not detail
REPEAT_RATIO = 0.2  # a frame is a repeat when it changes less than 20 % of the clip's median change
BLEND_RATIO = 0.25  # ... a blend when it is this much closer to its neighbours' mean than to either neighbour
MIN_FRAMES = 24


@dataclass(frozen=True)
class VideoSpeed:
    factor: float | None  # None: no evidence of slowing (normal speed or sped up cannot be told)
    confidence: float
    repeat_fraction: float
    blend_fraction: float
    n_frames: int


def grey_thumbnails(frames: list[np.ndarray]) -> np.ndarray:
    import cv2

    return np.stack(
        [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (THUMB, THUMB), interpolation=cv2.INTER_AREA) for f in frames]
    ).astype(np.float32)


def frame_change_pattern(thumbs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(change to previous frame, change to the next, distance from the neighbours' mean) per inner frame."""
    diffs = np.mean(np.abs(np.diff(thumbs, axis=0)), axis=(1, 2))  # len n-1
    mid = np.mean(np.abs(thumbs[1:-1] - 0.5 * (thumbs[:-2] + thumbs[2:])), axis=(1, 2))
    return diffs[:-1], diffs[1:], mid


def estimate_video_speed(frames: list[np.ndarray]) -> VideoSpeed:
    """Factor from the share of repeated and blended frames (consecutive frames of the source required)."""
    n = len(frames)
    if n < MIN_FRAMES:
        return VideoSpeed(None, 0.0, 0.0, 0.0, n)
    thumbs = grey_thumbnails(frames)
    before, after, to_mean = frame_change_pattern(thumbs)
    all_diffs = np.concatenate([before, after[-1:]])
    typical = float(np.median(all_diffs[all_diffs > np.percentile(all_diffs, 10)])) + 1e-6
    if typical < 0.3:  # a still picture: nothing moves, so repeats cannot be told from stillness
        return VideoSpeed(None, 0.0, 0.0, 0.0, n)
    repeats = all_diffs < REPEAT_RATIO * typical
    # a blend sits between its neighbours: far from each of them, close to their mean
    blends = (to_mean < BLEND_RATIO * np.minimum(before, after)) & (before > REPEAT_RATIO * typical) & (
        after > REPEAT_RATIO * typical
    )
    repeat_fraction = float(repeats.mean())
    blend_fraction = float(blends.mean())
    still = repeat_fraction + blend_fraction
    if still < 0.08:
        # natural footage: report "not slowed" with some confidence (speed-ups stay invisible here)
        return VideoSpeed(None, 0.3, repeat_fraction, blend_fraction, n)
    factor = float(np.clip(1.0 - still, 0.05, 1.0))
    confidence = float(np.clip((still - 0.08) / 0.15, 0.0, 1.0) * min(1.0, n / 100))
    return VideoSpeed(factor, confidence, repeat_fraction, blend_fraction, n)
