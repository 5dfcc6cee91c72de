"""Faces as the rest of dflab sees them: per-frame observations grouped into tracks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FaceObservation:
    """One face in one analysed frame. Coordinates are pixels of the analysis frame (Media.frames[i].rgb)."""

    frame_pos: int  # position in Media.frames (not the source frame index)
    time_s: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    landmarks: np.ndarray  # (478, 3) mediapipe FaceMesh with iris: x, y in pixels, z in pixels (relative depth)
    score: float = 1.0  # detector confidence


@dataclass
class FaceTrack:
    """The same face followed across frames. An image gives tracks of length one."""

    track_id: int
    observations: list[FaceObservation]
    embeddings: dict[int, np.ndarray] = field(default_factory=dict)  # frame_pos -> 128-d dlib descriptor

    @property
    def first_frame(self) -> int:
        return self.observations[0].frame_pos

    @property
    def last_frame(self) -> int:
        return self.observations[-1].frame_pos

    @property
    def time_range(self) -> tuple[float, float]:
        return self.observations[0].time_s, self.observations[-1].time_s

    def __len__(self) -> int:
        return len(self.observations)
