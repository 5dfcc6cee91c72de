"""Frames to hash: the one frame of an image, frames at a fixed rate for a video, each with its time.

Decoding is dflab.media.load's job. Images are kept at full resolution (PDQ's own Jarosz filter does the
downscale, so the hashes match upstream); video frames are shrunk to `video_max_side` before hashing, which
only saves time because PDQ works on a 64x64 reduction anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.config import Limits, SamplingPolicy
from dflab.errors import BadMedia, Unsupported

IMAGE_MAX_SIDE = 16384  # "no downscale" for images (the pixel limit still applies)


@dataclass(frozen=True)
class SampledMedia:
    path: Path
    media_type: str  # "image" or "video"
    times_s: list[float]  # from the first sampled frame
    frames: list[np.ndarray]  # HxWx3 uint8 RGB, one per time
    duration_s: float
    width: int
    height: int


def shrink(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    """Area-downscale so the longer side is at most max_side (never upscale)."""
    if not max_side or max(rgb.shape[:2]) <= max_side:
        return rgb
    import cv2

    scale = max_side / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def fixed_rate(times_s: list[float], rate_fps: float, tolerance_s: float = 1e-3) -> list[int]:
    """Indices of the frames that are first at or after each tick 0, 1/rate, 2/rate, ... (minus tolerance)."""
    picked: list[int] = []
    if not times_s:
        return picked
    start, step, next_tick = times_s[0], 1.0 / rate_fps, 0.0
    for index, time_s in enumerate(times_s):
        elapsed = time_s - start
        if elapsed + tolerance_s >= next_tick:
            picked.append(index)
            while next_tick <= elapsed + tolerance_s:
                next_tick += step
    return picked


def sample_media(
    path: str | Path, video_fps: float = 2.0, video_max_side: int = 512, limits: Limits | None = None
) -> SampledMedia:
    """Decode `path` into the frames the registry hashes. Raises BadMedia / Unsupported / NotFound / LimitExceeded."""
    from dflab.media import load

    limits = limits or Limits()
    path = Path(path)
    policy = SamplingPolicy(all_frames_up_to_s=0.0, rate_fps=video_fps, max_side=IMAGE_MAX_SIDE)
    # The soundtrack is decoded too (and dropped): a damaged one makes the file partial here as in every command.
    media = load(path, policy, limits, require_video=True)
    if not media.frames:
        raise BadMedia(f"{path}: no decodable pictures")
    if media.media_type == "image":
        return SampledMedia(path, "image", [0.0], [media.frames[0].rgb], 0.0, int(media.width), int(media.height))
    if media.media_type != "video":
        raise Unsupported(f"{path}: {media.media_type} has no pictures to hash")
    frames = media.frames
    if media.sampled_fps > video_fps * 1.1:  # the loader kept more than asked: thin to the registry's rate
        tolerance = 0.5 / media.fps if media.fps > 0 else 1e-3
        frames = [frames[i] for i in fixed_rate([f.time_s for f in frames], video_fps, tolerance)]
    start = frames[0].time_s
    return SampledMedia(
        path, "video", [float(f.time_s - start) for f in frames], [shrink(f.rgb, video_max_side) for f in frames],
        float(media.duration_s), int(media.width), int(media.height),
    )
