"""What a scan returns: a lean, picklable result whose `to_json()` is the `dflab scan --json` document.

A ScanResult keeps no decoded frames: only what the JSON and the HTML report need (per-frame score series,
face boxes, a few small key-frame JPEGs and downscaled heat maps), so it can travel through a job queue or
a Ray object store. The JSON document is versioned (SCHEMA_VERSION; docs/schema/scan-1.0.json): new keys
may appear in a 1.x document, existing keys keep their meaning.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dflab.detect.evidence import Evidence, Verdict
from dflab.detect.findings import Finding, OperatingPoint

SCHEMA_VERSION = "1.0"
TIMELINE_MAX_POINTS = 300  # the JSON timeline is thinned to about this many points on long clips


@dataclass
class TrackResult:
    track_id: int
    score: float
    verdict: Verdict
    first_frame: int  # source frame indices
    last_frame: int
    time_range: tuple[float, float]
    n_frames: int
    box: tuple[float, float, float, float]  # first observation, analysis-frame pixels

    def to_json(self) -> dict:
        return {
            "track_id": self.track_id,
            "score": round(self.score, 4),
            "verdict": self.verdict,
            "frame_range": [self.first_frame, self.last_frame],
            "time_range": [round(self.time_range[0], 3), round(self.time_range[1], 3)],
            "n_frames": self.n_frames,
            "box": [round(v, 1) for v in self.box],
        }


@dataclass(frozen=True)
class FaceBoxes:
    """Where one face track was in every analysed frame it was seen in (analysis-frame pixels)."""

    track_id: int
    frame_positions: np.ndarray  # (n,) int32: positions among the analysed frames
    times: np.ndarray  # (n,) float64 seconds
    boxes: np.ndarray  # (n, 4) float32: x0, y0, x1, y1

    def at(self, frame_pos: int) -> tuple[float, float, float, float] | None:
        hits = np.flatnonzero(self.frame_positions == frame_pos)
        return tuple(float(v) for v in self.boxes[hits[0]]) if len(hits) else None


@dataclass(frozen=True)
class KeyFrame:
    """One analysed frame kept for the report, as a small JPEG (never larger than the analysis frame)."""

    frame_pos: int  # position among the analysed frames (what Evidence.heatmap_frame and FaceBoxes refer to)
    time_s: float
    jpeg: bytes
    width: int
    height: int
    scale: float  # key-frame pixels per analysis-frame pixel

    def rgb(self) -> np.ndarray:
        """The picture as an HxWx3 uint8 RGB array."""
        from PIL import Image

        with Image.open(io.BytesIO(self.jpeg)) as picture:
            return np.asarray(picture.convert("RGB"))


@dataclass
class ScanResult:
    """One scanned file: the verdict, the evidence behind it, and what the report draws."""

    path: Path
    media_type: str
    score: float
    verdict: Verdict
    summary: str
    faces: list[TrackResult]
    evidence: list[Evidence]  # heat maps downscaled (float16, keyframes.HEATMAP_MAX_SIDE) over `heatmap_frame`
    timings: dict[str, float]
    timeline_times: np.ndarray
    timeline_scores: np.ndarray
    findings: list[Finding] = field(default_factory=list)
    models: list[dict] = field(default_factory=list)
    operating_point: OperatingPoint = field(default_factory=OperatingPoint)
    duration_s: float | None = None
    frames_analysed: int = 0
    # Whether the file decoded whole (dflab.media.check): False only when scanned with Limits.allow_partial.
    complete: bool | None = None
    decoded_duration_s: float | None = None
    declared_duration_s: float | None = None  # None where the container declares no length
    key_frames: list[KeyFrame] = field(default_factory=list)  # most telling first (the report shows a prefix)
    face_boxes: list[FaceBoxes] = field(default_factory=list)  # one per face track, same order as `faces`

    def to_json(self) -> dict:
        """The scan document (schema SCHEMA_VERSION): plain JSON types only, non-finite numbers as null."""
        step = max(1, len(self.timeline_times) // TIMELINE_MAX_POINTS)  # keep the JSON line small on long clips
        return plain_json({
            "schema_version": SCHEMA_VERSION,
            "path": str(self.path),
            "media_type": self.media_type,
            "score": round(self.score, 4),
            "verdict": self.verdict,
            "summary": self.summary,
            "duration_s": round(self.duration_s, 3) if self.duration_s is not None else None,
            "frames_analysed": self.frames_analysed,
            "complete": self.complete,
            "decoded_duration_s": self.decoded_duration_s,
            "declared_duration_s": self.declared_duration_s,
            "findings": [f.to_json() for f in self.findings],
            "operating_point": self.operating_point.to_json(),
            "faces": [t.to_json() for t in self.faces],
            "evidence": [e.to_json() for e in self.evidence],
            "shallow": shallow_summary(self.evidence),
            "timeline": {
                "times": [round(float(t), 3) for t in self.timeline_times[::step]],
                "scores": [round(float(s), 4) for s in self.timeline_scores[::step]],
            },
            "models": self.models,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        })


def shallow_summary(evidence: list[Evidence]) -> dict:
    """Speed and cut findings gathered from whichever detectors report them (null when none ran).

    Detectors publish them in their details: `speed_factor` and `speed_confidence` (playback speed,
    1.0 = natural) and `cuts` (seconds on the file's own timeline)."""
    out: dict = {"speed_factor": None, "speed_confidence": None, "cuts": None}
    for ev in evidence:
        for key in out:
            if ev.details.get(key) is not None and out[key] is None:
                out[key] = ev.details[key]
    return out


def plain_json(value):
    """`value` with only JSON's own types: numpy scalars and arrays become numbers and lists, tuples lists,
    paths strings, and NaN or infinity null (strict JSON readers reject them). What json.loads gives back
    from the printed document is then equal to this, key for key."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain_json(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
