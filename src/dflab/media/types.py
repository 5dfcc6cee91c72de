"""What decoded media looks like to the rest of dflab: RGB frames with timestamps, plus optional audio."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

MediaType = Literal["image", "video", "audio"]


@dataclass(frozen=True)
class Frame:
    index: int  # index in the source stream (not in the sampled list)
    time_s: float  # presentation time in seconds from the start
    rgb: np.ndarray  # HxWx3 uint8, RGB, already EXIF-oriented and scaled to the analysis size
    # the codec's frame type ("I", "P", "B"; "" when unknown): x264 B-frames are near-averages of their
    # references, a rhythm the video speed estimator must not read as frame blending
    pict_type: str = ""


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # mono float32 in [-1, 1]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate)


@dataclass
class Media:
    """One decoded file. Images are a single frame at t=0; audio files have no frames."""

    path: Path
    media_type: MediaType
    frames: list[Frame]
    fps: float  # of the source stream (0 for images and audio)
    duration_s: float
    width: int  # of the source, before any analysis downscale
    height: int
    audio: Audio | None = None
    codec: str = ""
    scale: float = 1.0  # analysis frames = source size * scale
    meta: dict = field(default_factory=dict)

    @property
    def sampled_fps(self) -> float:
        """Effective rate of the analysed frames."""
        if len(self.frames) < 2:
            return self.fps
        span = self.frames[-1].time_s - self.frames[0].time_s
        return (len(self.frames) - 1) / span if span > 0 else self.fps
