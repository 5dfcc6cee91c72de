"""Playback speed from the frames alone: slowed video repeats or blends frames.

Slowing a clip to factor r at an unchanged frame rate needs 1/r output frames per source frame; editors
either repeat frames (nearest-frame retiming) or blend neighbours (frame blending). Either way, a share of
about 1 - r of the frames carries no new motion: a repeated frame differs from its predecessor by little
more than codec noise, a blended one is the average of its neighbours. Natural footage of a talking
person has neither in any number. Speeding up drops frames, which leaves no such trace, so the video
estimator only speaks for slowed clips (and says so). Frame-rate conversion (25 -> 30 fps repeats one
frame in six) leaves the same trace as slowing to 0.83x, which is why the speed detector lets the frames
refine, not overrule, the audio: two of the LivePortrait clips (d6, d20) show about 15 % repeats as shot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THUMB = 64  # frames are compared as 64x64 grey thumbnails: motion, not detail
REPEAT_RATIO = 0.15  # a frame is a repeat when it changes less than 15 % of the change around it
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
    """Factor from the share of repeated and blended frames (consecutive frames of the source required).

    A repeat is a dip in frame-to-frame change: far below the change in the frames around it. Slow natural motion lowers the change smoothly, over many frames, so it makes no such dips; a
    still shot has no change anywhere, so nothing dips below its neighbours either."""
    n = len(frames)
    if n < MIN_FRAMES:
        return VideoSpeed(None, 0.0, 0.0, 0.0, n)
    thumbs = grey_thumbnails(frames)
    diffs = np.mean(np.abs(np.diff(thumbs, axis=0)), axis=(1, 2))  # change into frame t+1, len n-1
    if float(np.percentile(diffs, 90)) < 0.05:  # a still picture: retiming cannot be seen
        return VideoSpeed(None, 0.0, 0.0, 0.0, n)
    # the change around each frame: 75th percentile over +-4 frames, so runs of two or three repeats
    # (0.5x retiming with rounding) still dip below it
    window = np.lib.stride_tricks.sliding_window_view(np.pad(diffs, 4, mode="edge"), 9)
    around = np.percentile(window, 75, axis=1)
    repeats = diffs < REPEAT_RATIO * around
    before, after, to_mean = frame_change_pattern(thumbs)
    # a blend sits between its neighbours: clearly away from each of them, close to their mean
    blends = (to_mean < BLEND_RATIO * np.minimum(before, after)) & ~repeats[:-1] & ~repeats[1:]
    repeat_fraction = float(repeats.mean())
    blend_fraction = float(blends.mean())
    still = repeat_fraction + blend_fraction
    if still < 0.05:
        # natural footage: "not slowed", said with modest confidence (speed-ups stay invisible here)
        return VideoSpeed(None, 0.3, repeat_fraction, blend_fraction, n)
    factor = float(np.clip(1.0 - still, 0.05, 1.0))
    confidence = float(np.clip((still - 0.05) / 0.05, 0.0, 1.0) * min(1.0, n / 100))
    return VideoSpeed(factor, confidence, repeat_fraction, blend_fraction, n)
