"""The currency of detection: every detector returns one Evidence; the scan fuses them into a Report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Verdict = Literal["authentic", "suspicious", "manipulated"]


@dataclass(frozen=True)
class Evidence:
    """What one detector found in one file.

    score: probability-like in [0, 1] that the cue indicates manipulation (0.5 = no information).
    confidence: how much the detector trusts its own score on this input (0 = not applicable / no data).
    series: per analysed frame values keyed by name (e.g. "ear"), aligned with `times`.
    time_ranges: (start_s, end_s) spans where the evidence is strongest.
    track_scores: per face track score, for cues that work per face.
    heatmap: optional HxW float map in [0, 1] over the key frame (`heatmap_frame` = position in Media.frames);
        a detector returns it at the frame's size, a ScanResult keeps it downscaled (detect/keyframes.py).
    decisive: the evidence alone settles the verdict (e.g. our own watermark was found).
    """

    name: str
    score: float
    confidence: float
    summary: str
    time_ranges: list[tuple[float, float]] = field(default_factory=list)
    times: np.ndarray | None = None
    series: dict[str, np.ndarray] = field(default_factory=dict)
    track_scores: dict[int, float] = field(default_factory=dict)
    heatmap: np.ndarray | None = None
    heatmap_frame: int | None = None
    details: dict = field(default_factory=dict)
    decisive: bool = False

    def __post_init__(self) -> None:
        if not (0.0 <= self.score <= 1.0) or not np.isfinite(self.score):
            raise ValueError(f"{self.name}: score {self.score} outside [0, 1]")
        if not (0.0 <= self.confidence <= 1.0):
            raise ValueError(f"{self.name}: confidence {self.confidence} outside [0, 1]")

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "score": round(float(self.score), 4),
            "confidence": round(float(self.confidence), 4),
            "summary": self.summary,
            "time_ranges": [[round(a, 3), round(b, 3)] for a, b in self.time_ranges],
            "track_scores": {str(k): round(float(v), 4) for k, v in self.track_scores.items()},
            "decisive": self.decisive,
            "details": self.details,
        }


def not_applicable(name: str, why: str) -> Evidence:
    """Evidence that carries no information (cue cannot run on this input)."""
    return Evidence(name=name, score=0.5, confidence=0.0, summary=why)
