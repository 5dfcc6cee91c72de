"""Lip sync (issue 6, part 5): does the main face's mouth move with the voice?

Measured by bench/lip_sync.py (first 10 s, window-median correlation, natural / dub / audio 500 ms late):
d6 0.54 / 0.01 / 0.24, d20 0.32 / 0.16 / 0.12, d10 0.35 / 0.14 / 0.21, d11 0.35 / 0.12 / 0.06,
d12 0.40 / 0.27 / 0.27. It fails where the main face is not the voice: d14 (music, no speech: confidence 0.05)
and the Hamilton stage clip (several people, cuts; natural 0.15 scores worse than its dub 0.33). Music, silence
or a still mouth carry no information, so the confidence follows how much voice and mouth movement there is.
"""

from __future__ import annotations

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector

GOOD_SYNC = 0.35  # window-median correlation of natural talking faces (lower end)
NO_SYNC = 0.05  # of unrelated audio


def sync_score(correlation: float) -> float:
    """Probability-like score: 0.25 at GOOD_SYNC or better, 0.75 at NO_SYNC or worse, linear between."""
    if not np.isfinite(correlation):
        return 0.5
    frac = (GOOD_SYNC - correlation) / (GOOD_SYNC - NO_SYNC)
    return float(np.clip(0.25 + 0.5 * frac, 0.25, 0.75))


def sync_confidence(voiced_fraction: float, mouth_activity: float, duration_s: float) -> float:
    return float(0.8 * min(1.0, voiced_fraction / 0.3) * min(1.0, mouth_activity / 0.1) * min(1.0, duration_s / 6.0))


@register_detector("lip_sync")
class LipSyncDetector:
    media_types = ("video",)
    needs_faces = True

    def detect(self, media: AnalysedMedia) -> Evidence:
        from dflab.shallow.lipsync import lip_sync

        audio = media.media.audio
        if audio is None or len(audio.samples) == 0:
            return not_applicable(self.name, "The video has no audio track, so lip sync cannot be checked.")
        tracks = sorted(media.tracks, key=len, reverse=True)
        if not tracks:
            return not_applicable(self.name, "No face was tracked, so lip sync cannot be checked.")
        track = tracks[0]
        result = lip_sync(track, audio)
        if result is None or not np.isfinite(result.correlation):
            return not_applicable(self.name, "The main face is visible for too short a time to check lip sync.")
        duration = float(result.grid_times[-1] - result.grid_times[0])
        score = sync_score(result.correlation)
        confidence = sync_confidence(result.voiced_fraction, result.mouth_activity, duration)
        if confidence < 0.05:
            summary = "Too little speech or mouth movement to judge lip sync."
        elif score > 0.5:
            summary = (f"Mouth and voice agree poorly (correlation {result.correlation:.2f}): the audio may be "
                       f"dubbed, shifted or the lips re-animated.")
        else:
            summary = f"Mouth movement follows the voice (correlation {result.correlation:.2f}, lag {result.lag_s * 1000:+.0f} ms)."
        poor = result.window_correlation < NO_SYNC + 0.05
        ranges = [(max(0.0, t - 2.0), t + 2.0) for t, bad in zip(result.window_times, poor) if bad] if score > 0.5 else []
        merged: list[tuple[float, float]] = []
        for start, end in ranges:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        end_limit = media.media.duration_s
        return Evidence(
            name=self.name,
            score=score,
            confidence=confidence,
            summary=summary,
            time_ranges=[(a, min(b, end_limit)) for a, b in merged if a < end_limit],
            times=result.grid_times,
            series={"mouth_opening": result.mouth, "voice_energy": result.voice},
            track_scores={track.track_id: score},
            details={
                "track_id": track.track_id,
                "sync_correlation": round(result.correlation, 4),
                "clip_correlation": round(result.clip_correlation, 4) if np.isfinite(result.clip_correlation) else None,
                "sync_lag_s": round(result.lag_s, 3),
                "voiced_fraction": round(result.voiced_fraction, 3),
                "mouth_activity": round(result.mouth_activity, 4),
            },
        )
