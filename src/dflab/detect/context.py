"""What a detector looks at: the decoded file plus the face tracks found in it (computed once per scan)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dflab.faces.types import FaceTrack
from dflab.media.types import Media


@dataclass
class AnalysedMedia:
    media: Media
    tracks: list[FaceTrack] = field(default_factory=list)
    cache: dict = field(default_factory=dict)  # shared intermediate results (e.g. aligned face crops)
    reference_voice: Path | None = None  # `scan --reference`: a recording of the voice the file should carry
    # `scan --ledger`: the watermark payloads the lab issued (provenance/watermark/informed.Candidate), tested by
    # the watermark cue when its mark does not decode blindly; empty: blind decoding only
    watermark_candidates: tuple = ()
    # Child processes the scan started for detectors' models, by detector name (their `start_process`)
    workers: dict = field(default_factory=dict)

    @property
    def media_type(self) -> str:
        return self.media.media_type

    @property
    def frame_times(self) -> np.ndarray:
        return np.array([f.time_s for f in self.media.frames], dtype=np.float64)

    def frame(self, frame_pos: int) -> np.ndarray:
        return self.media.frames[frame_pos].rgb

    def frame_shape(self, frame_pos: int) -> tuple[int, ...]:
        """The shape of a frame's pixels, without decoding a streamed frame again when its size is known (every
        analysis frame of a video has the same size)."""
        known = getattr(self.media.frames, "frame_shape", None)
        return tuple(known) if known is not None else self.frame(frame_pos).shape
