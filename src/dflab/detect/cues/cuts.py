"""Cuts and splices (issue 6, part 2): hard cuts, jump cuts inside one shot, audio splices.

A cut is not proof of manipulation (most edited video has hard cuts), so hard cuts alone move the score only a
little; a jump cut inside a continuous shot of a face, or a splice heard in the audio, is what makes an
interview seem to say what it did not. The times go to the scan JSON's `shallow.cuts`.
"""

from __future__ import annotations

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector

MIN_FRAMES = 4


def _score(cuts) -> tuple[float, float]:
    """(score, confidence): jump cuts and audio splices weigh more than hard cuts."""
    if not cuts:
        return 0.35, 0.5
    weights = {"hard": 0.15, "jump": 1.0, "audio": 0.6}
    evidence = sum(weights[c.kind] * c.confidence for c in cuts)
    score = 0.5 + 0.45 * (1.0 - 0.5**evidence) if evidence > 0 else 0.5
    return float(min(score, 0.95)), float(max(c.confidence for c in cuts))


@register_detector("cuts")
class CutsDetector:
    media_types = ("video",)
    needs_faces = False

    def detect(self, media: AnalysedMedia) -> Evidence:
        import numpy as np

        from dflab.shallow.cuts import find_cuts

        frames = media.media.frames
        if len(frames) < MIN_FRAMES:
            return not_applicable(self.name, "Too few frames to look for cuts.")
        cuts, signals = find_cuts(frames, media.tracks, media.media.audio)
        score, confidence = _score(cuts)
        counts = {kind: sum(c.kind == kind for c in cuts) for kind in ("hard", "jump", "audio")}
        if cuts:
            parts = [f"{n} {kind} cut(s)" for kind, n in counts.items() if n]
            listed = ", ".join(f"{c.time_s:.2f} s ({c.kind})" for c in cuts[:6])
            summary = f"Found {' and '.join(parts)}: {listed}{' ...' if len(cuts) > 6 else ''}."
        else:
            summary = "No cut or splice found: the footage looks continuous."
        dt = float(np.median(np.diff(signals.times))) if len(signals.times) > 1 else 0.04
        ratio = np.nan_to_num(signals.picture_ratio, nan=0.0)
        per_frame = np.full(len(signals.times), 0.5)  # the timeline shows a bump at each jump cut or splice
        for cut in cuts:
            if cut.kind != "hard" and len(per_frame):
                pos = int(np.argmin(np.abs(signals.times - cut.time_s)))
                per_frame[pos] = max(per_frame[pos], 0.5 + 0.4 * cut.confidence)
        return Evidence(
            name=self.name,
            score=score,
            confidence=confidence,
            summary=summary,
            time_ranges=[(max(0.0, c.time_s - dt), c.time_s) for c in cuts if c.kind != "hard"],
            times=signals.times,
            series={"picture_change": ratio, "score": per_frame},
            details={
                "cuts": [round(c.time_s, 3) for c in cuts],
                "cut_details": [c.to_json() for c in cuts],
                "hard_cuts": counts["hard"],
                "jump_cuts": counts["jump"],
                "audio_splices": counts["audio"],
            },
        )
