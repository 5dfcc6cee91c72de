"""What the whole-picture detectors (synthetic_image, synthetic_image_cnn) share: a picture is one frame, a video
a few frames spread over it, each scored alone and the median kept; and which kind of input it was, since a video
codec or a downscale for analysis removes most of the traces they read."""

from __future__ import annotations

from collections.abc import Callable
import numpy as np

from dflab.detect.context import AnalysedMedia

FRAMES_PER_VIDEO = 3


def spread_frames(media: AnalysedMedia, count: int = FRAMES_PER_VIDEO) -> list[int]:
    """Up to `count` frame positions spread evenly over the media (a picture's one frame)."""
    n = len(media.media.frames)
    return np.linspace(0, n - 1, min(count, n)).round().astype(int).tolist() if n else []


def score_spread_frames(media: AnalysedMedia, score: Callable[[np.ndarray], tuple]) -> tuple[list[int], list, float]:
    """(frame positions, `score(rgb)` of each, the median of their first values)."""
    frames = media.media.frames
    picks = spread_frames(media)
    scored = [score(frames[i].rgb) for i in picks]
    return picks, scored, float(np.median([s[0] for s in scored]))


def input_kind(media: AnalysedMedia) -> str:
    """"video", "image_resampled" (downscaled for analysis) or "image" (native pixels)."""
    if media.media_type == "video":
        return "video"
    return "image_resampled" if media.media.scale != 1.0 else "image"
