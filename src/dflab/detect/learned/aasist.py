"""Detector "aasist": is the voice synthetic (TTS, a zero-shot clone)?

AASIST-L with its published ASVspoof 2019 LA weights (dflab.audio.aasist) reads 4 s windows of the clip after
the common voice front end (dflab.audio.voice_frontend); a logistic head on the network's 160-d embedding,
calibrated leave-one-speaker-out on real recordings and Tortoise clones of the same speakers
(`python -m dflab.train.aasist_calibrate`), turns each window into a probability. The clip's score is the
mean log-odds over at most 8 windows spread over the file. Model card: docs/models/aasist.md.

It abstains (confidence 0) where there is no voice to judge: no audio track, under MIN_SPEECH_S of sound,
silence, steady noise or tones (no syllable rhythm), and music whose pitch holds still instead of gliding
like intonation.
"""

from __future__ import annotations

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector

MIN_SPEECH_S = 1.5
FULL_CONFIDENCE_S = 4.0  # one whole AASIST crop of speech; shorter clips are repeated to fill it
MAX_CONFIDENCE = 0.9
TOP_RANGES = 3
SAMPLE_RATE = 16_000


def voice_to_judge(samples: np.ndarray, sample_rate: int):
    """(the harmonised clip, "") when there is a voice to judge, else (None, why not in one sentence)."""
    from dflab.audio.presence import pitch_glides_like_speech, sounds_like_speech
    from dflab.audio.voice_frontend import harmonise
    from dflab.errors import BadMedia

    duration_s = len(samples) / sample_rate
    if duration_s < MIN_SPEECH_S:
        return None, f"Only {duration_s:.1f} s of audio: too short to judge the voice."
    try:
        clip = harmonise(samples, sample_rate)
    except BadMedia:
        return None, "The audio track is silent."
    speech_s = len(clip.samples) / SAMPLE_RATE
    if speech_s < MIN_SPEECH_S:
        return None, f"Only {speech_s:.1f} s of sound: too little to judge the voice."
    if not sounds_like_speech(clip.samples, SAMPLE_RATE):
        return None, "The audio does not sound like speech (no syllable rhythm)."
    if not pitch_glides_like_speech(clip.samples, SAMPLE_RATE):
        return None, "The audio does not sound like speech (its pitch holds still, as in music)."
    return clip, ""


def confidence_for(speech_s: float) -> float:
    """Full trust from one whole crop of speech on; a shorter clip is repeated to fill the crop."""
    return float(MAX_CONFIDENCE * min(1.0, speech_s / FULL_CONFIDENCE_S))


@register_detector("aasist")
class AasistDetector:
    media_types = ("audio", "video")
    needs_faces = False

    def __init__(self, head: str | None = None) -> None:
        self.head = head

    def detect(self, media: AnalysedMedia) -> Evidence:
        audio = media.media.audio
        if audio is None:
            return not_applicable(self.name, "No audio track, so the voice could not be checked.")
        clip, why_not = voice_to_judge(audio.samples, audio.sample_rate)
        if clip is None:
            return not_applicable(self.name, why_not)
        return self._judge(clip, audio.duration_s)

    def _judge(self, clip, duration_s: float) -> Evidence:
        from dflab.audio.aasist_scoring import clip_log_odds, load_head, sigmoid, window_outputs

        speech_s = len(clip.samples) / SAMPLE_RATE
        head = load_head(self.head)
        out = window_outputs(clip.samples)
        window_log_odds = head.log_odds(out.embeddings)
        window_p = sigmoid(window_log_odds)
        score = float(np.clip(sigmoid(clip_log_odds(window_log_odds)), 0.0, 1.0))
        starts = np.minimum(clip.offset_s + out.starts_s, duration_s)
        ends = np.minimum(clip.offset_s + out.ends_s, duration_s)
        spoof_like = [i for i in np.argsort(-window_p, kind="stable")[:TOP_RANGES] if window_p[i] >= 0.5]
        ranges = sorted((float(starts[i]), float(ends[i])) for i in spoof_like)
        verdict = "resembles a synthetic or cloned voice" if score >= 0.5 else "resembles a natural voice"
        return Evidence(
            name=self.name,
            score=score,
            confidence=confidence_for(speech_s),
            summary=f"The voice {verdict} (AASIST, p = {score:.2f} over {len(window_p)} window(s) of 4 s).",
            time_ranges=ranges,
            times=(starts + ends) / 2,
            series={"score": window_p.astype(np.float64)},
            details={"synthetic_probability": round(score, 4), "speech_s": round(speech_s, 2),
                     "window_probabilities": [round(float(p), 4) for p in window_p],
                     "published_spoof_probability": round(float(sigmoid(np.mean(out.published_log_odds))), 4),
                     "head": head.meta.get("fitted_on", "")},  # fmt: skip
        )
