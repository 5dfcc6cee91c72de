"""Eye blinking (Li, Chang & Lyu 2018, "In Ictu Oculi"): early face swaps rarely blink, because the
training photos show open eyes. We follow the eye-aspect-ratio (EAR) per frame, find blinks as short
dips below the track's own open-eye level, and compare their rate and duration with human norms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector
from dflab.faces import landmarks as lm
from dflab.faces.types import FaceTrack

# Spontaneous blinking in adults: about 8-21 per minute at rest, more while talking; each lasts
# 100-400 ms (Bentivoglio et al. 1997). Below ~2 per minute over a long stretch is unusual.
NORMAL_RATE_PER_MIN = (8.0, 30.0)
LOW_RATE_PER_MIN = 2.0
HIGH_RATE_PER_MIN = 70.0  # talking raises the rate; above this the "blinks" are flicker of the eye region
MAX_BLINK_S = 0.8  # a longer closure is a deliberate eye closure or looking down, not a blink
# Hysteresis: an eye closure spans the frames below 80 % of the open-eye EAR and is a blink if it dips
# below 62 %, so landmark jitter around one threshold does not count as blinking twice.
EDGE_FRACTION = 0.80
DIP_FRACTION = 0.62
MIN_TRACK_S = 4.0


@dataclass(frozen=True)
class BlinkStats:
    times: np.ndarray
    ear: np.ndarray
    open_level: float
    blinks: list[tuple[float, float]]
    duration_s: float

    @property
    def rate_per_min(self) -> float:
        return 60.0 * len(self.blinks) / self.duration_s if self.duration_s > 0 else float("nan")


def ear_series(track: FaceTrack) -> tuple[np.ndarray, np.ndarray]:
    times = np.array([o.time_s for o in track.observations])
    ear = np.array(
        [np.nanmean([lm.eye_aspect_ratio(o.landmarks, "left"), lm.eye_aspect_ratio(o.landmarks, "right")])
         for o in track.observations]
    )
    return times, ear


def find_blinks(times: np.ndarray, ear: np.ndarray) -> tuple[float, list[tuple[float, float]]]:
    """Blinks as (start_s, end_s) of the closed part of each eye closure (at most one per closure).

    An episode is a run of frames below EDGE_FRACTION of the open-eye level (a new blink can only start
    once the eye has reopened past it); it is a blink when it dips below DIP_FRACTION and that closed
    part lasts at most MAX_BLINK_S. The open level is a high percentile of the series, so it adapts to
    each face's eye shape and to the landmark model's bias.
    """
    valid = np.isfinite(ear)
    if valid.sum() < 3:
        return float("nan"), []
    open_level = float(np.percentile(ear[valid], 80))
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    lowered = valid & (ear < EDGE_FRACTION * open_level)
    closed = valid & (ear < DIP_FRACTION * open_level)
    blinks: list[tuple[float, float]] = []
    i = 0
    while i < len(ear):
        if not lowered[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(ear) and lowered[j + 1]:
            j += 1
        deep = np.flatnonzero(closed[i : j + 1]) + i
        if len(deep):
            last = deep[0]  # the closed part is the first contiguous run below the dip level
            while last + 1 <= j and closed[last + 1]:
                last += 1
            t0, t1 = float(times[deep[0]]), float(times[last]) + dt
            if t1 - t0 <= MAX_BLINK_S:
                blinks.append((t0, t1))
        i = j + 1
    return open_level, blinks


def blink_stats(track: FaceTrack) -> BlinkStats:
    times, ear = ear_series(track)
    open_level, blinks = find_blinks(times, ear)
    duration = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    return BlinkStats(times, ear, open_level, blinks, duration)


def _score(stats: BlinkStats) -> tuple[float, float, str]:
    """(score, confidence, sentence) for one track."""
    n, minutes = len(stats.blinks), stats.duration_s / 60.0
    confidence = float(min(1.0, stats.duration_s / 30.0))
    if stats.duration_s < MIN_TRACK_S:
        return 0.5, 0.0, f"The face is visible for only {stats.duration_s:.1f} s, too short to judge blinking."
    rate = stats.rate_per_min
    if n == 0:
        # The chance that a person at the low end of normal (8/min) does not blink in this time.
        p_no_blink = float(np.exp(-NORMAL_RATE_PER_MIN[0] * minutes))
        score = 0.5 + 0.35 * (1.0 - p_no_blink) * min(1.0, stats.duration_s / 15.0)
        return score, confidence, f"No blink in {stats.duration_s:.1f} s (people blink about 8-21 times a minute)."
    mean_ms = 1000 * float(np.mean([b - a for a, b in stats.blinks]))
    text = f"{n} blink(s) in {stats.duration_s:.1f} s ({rate:.0f}/min, mean {mean_ms:.0f} ms)"
    if rate < LOW_RATE_PER_MIN:
        return 0.62, confidence, text + ": unusually rare."
    if rate > HIGH_RATE_PER_MIN:
        return 0.65, confidence, text + ": unusually frequent (eye flicker)."
    if rate > NORMAL_RATE_PER_MIN[1]:
        return 0.4, confidence, text + ": frequent, as while talking (about 8-21 a minute at rest)."
    return 0.4, confidence, text + ": within human norms."


@register_detector("blink")
class BlinkDetector:
    media_types = ("video",)
    needs_faces = True

    def detect(self, media: AnalysedMedia) -> Evidence:
        tracks = [t for t in media.tracks if len(t) >= 3]
        if not tracks:
            return not_applicable(self.name, "No face was tracked long enough to follow blinking.")
        per_track = {t.track_id: (blink_stats(t), t) for t in tracks}
        scored = {tid: _score(stats) for tid, (stats, _) in per_track.items()}
        main_id = max(per_track, key=lambda tid: len(per_track[tid][1]))
        stats = per_track[main_id][0]
        score, confidence, text = scored[main_id]
        suspicious = score > 0.5 and confidence > 0
        return Evidence(
            name=self.name,
            score=score,
            confidence=confidence,
            summary=text,
            time_ranges=[(float(stats.times[0]), float(stats.times[-1]))] if suspicious else [],
            times=stats.times,
            series={"ear": stats.ear},
            track_scores={tid: (s if c > 0 else 0.5) for tid, (s, c, _) in scored.items()},
            details={
                "track_id": main_id,
                "blinks": [[round(a, 3), round(b, 3)] for a, b in stats.blinks],
                "blink_rate_per_min": None if np.isnan(stats.rate_per_min) else round(stats.rate_per_min, 2),
                "open_ear": None if np.isnan(stats.open_level) else round(stats.open_level, 4),
                "blink_threshold": None if np.isnan(stats.open_level) else round(DIP_FRACTION * stats.open_level, 4),
            },
        )
