"""Is the voice in this file the person in the reference recording (`dflab scan FILE --reference VOICE`)?

Cosine similarity of GE2E speaker embeddings (the encoder inside the resemblyzer wheel) against the
threshold at LibriSpeech's equal-error point. A mismatch raises the score: the file claims to be
someone it does not sound like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector

SLOPE = 12.0  # logistic slope per unit of cosine similarity around the threshold


@register_detector("speaker_match")
class SpeakerMatchDetector:
    media_types = ("audio", "video")
    needs_faces = False

    def __init__(self, reference: str | Path | None = None) -> None:
        self.reference = Path(reference) if reference else None

    def detect(self, media: AnalysedMedia) -> Evidence:
        reference = self.reference or media.reference_voice
        if reference is None:
            return not_applicable(self.name, "No reference voice given (--reference VOICE.wav).")
        audio = media.media.audio
        if audio is None:
            return not_applicable(self.name, "No audio track to compare with the reference voice.")
        from dflab.audio.speaker import calibrated_threshold, cosine, embed
        from dflab.errors import BadMedia
        from dflab.media import load_audio

        ref_embedding = media.cache.get(("reference_embedding", str(reference)))
        if ref_embedding is None:
            ref_embedding = embed(load_audio(reference).samples)  # a bad reference is the user's error: raise
            media.cache[("reference_embedding", str(reference))] = ref_embedding
        try:
            embedding = embed(audio.samples, audio.sample_rate)
        except BadMedia as exc:
            return not_applicable(self.name, f"Could not compare voices: {exc}.")
        similarity = cosine(embedding, ref_embedding)
        threshold = calibrated_threshold()
        same = similarity >= threshold
        score = float(1.0 / (1.0 + np.exp(-SLOPE * (threshold - similarity))))
        return Evidence(
            name=self.name,
            score=score,
            confidence=0.8,
            summary=(f"The voice {'matches' if same else 'does NOT match'} the reference {Path(reference).name} "
                     f"(cosine similarity {similarity:.2f}, threshold {threshold:.2f})."),  # fmt: skip
            time_ranges=[] if same else [(0.0, float(audio.duration_s))],
            details={"similarity": round(similarity, 4), "threshold": round(threshold, 4), "same_speaker": bool(same),
                     "reference": str(reference)},  # fmt: skip
        )
