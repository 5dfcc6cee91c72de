"""Synthetic speech (TTS, voice clones): window statistics of the clip after the common front end, scored by
the small logistic model trained with `dflab train synthetic-speech` (weights in
dflab/audio/weights/synthetic_speech.json; card docs/models/synthetic_speech.md)."""

from __future__ import annotations

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector

MIN_SPEECH_S = 1.5


@register_detector("synthetic_speech")
class SyntheticSpeechDetector:
    media_types = ("audio", "video")
    needs_faces = False
    # Copies of the whole 16 kHz track (the front end's resampled, normalised and MP3 round-tripped speech: about
    # 150 MB at the peak on 10 minutes): the runner keeps it from running beside the speed cue and the frame cues
    memory_heavy = True

    def __init__(self, weights: str | None = None) -> None:
        self.weights = weights

    def detect(self, media: AnalysedMedia) -> Evidence:
        from dflab.audio.antispoof import DEFAULT_WEIGHTS, SpoofModel
        from dflab.audio.presence import sounds_like_speech
        from dflab.audio.signal import normalise_loudness
        from dflab.errors import BadMedia

        audio = media.media.audio
        if audio is None:
            return not_applicable(self.name, "No audio track, so synthetic speech could not be checked.")
        if audio.duration_s < MIN_SPEECH_S:
            return not_applicable(self.name, f"Only {audio.duration_s:.1f} s of audio: too short to judge the voice.")
        try:
            samples = normalise_loudness(audio.samples, audio.sample_rate)
        except BadMedia:
            return not_applicable(self.name, "The audio track is silent.")
        if not sounds_like_speech(samples, audio.sample_rate):
            return not_applicable(self.name, "The audio does not sound like speech (no syllable rhythm).")
        model = SpoofModel.load(self.weights or DEFAULT_WEIGHTS)
        try:
            scored = model.window_scores(audio.samples, audio.sample_rate)
        except BadMedia:
            return not_applicable(self.name, "The audio track is silent.")
        probs, starts, ends = scored.probs, scored.starts_s, scored.ends_s
        score = float(np.clip(np.mean(probs), 0.0, 1.0))
        flagged = [(float(a), float(b)) for a, b, p in zip(starts, ends, probs) if p >= model.threshold]
        # Short clips give one short window and little to average over: judged less surely.
        confidence = float(0.7 * min(1.0, audio.duration_s / 4.0))
        verdict = "resembles synthesised speech" if score >= model.threshold else "resembles natural speech"
        return Evidence(
            name=self.name,
            score=score,
            confidence=confidence,
            summary=f"The voice {verdict} (p = {score:.2f} over {len(probs)} window(s)).",
            time_ranges=flagged,
            times=(starts + ends) / 2,
            series={"score": probs.astype(np.float64)},
            details={"synthetic_probability": round(score, 4), "threshold": model.threshold,
                     "chunk_probabilities": [round(float(p), 4) for p in probs]},  # fmt: skip
        )
