"""One playback-speed decision from the sound's reading and the frames' pattern: changed or not, by what factor,
which way, and how far to trust it. Pure: the speed cue (dflab.detect.cues.speed) measures, this decides.

The decision is a sum of log-odds of "changed": the audio model's probability, a strong video pattern (re-timing
no frame-rate conversion explains, read from clear repeats or drops) adding up to STRONG_VIDEO_LOGIT, a weak one
(a conversion ratio, a blend, unclear repeats/drops) nudging, and frames without any pattern pulling a little
towards natural. The factor comes from whichever source can be trusted with it: the frames' pattern is exact when
it is re-timing (error < 0.5 %), the sound's regression is +-10-20 % and can land on the wrong side of 1 (0.73x
for a 1.25x clip), so a strong pattern always sets the factor, a weak one whenever the sound does not point the
other way or points it with less support (sound_strength), and the sound alone only when the frames show nothing.
Two readings on different sides of 1 are never averaged: one of them is reported, and the decision says they
disagree (`contradicted`). A pattern a frame-rate conversion explains is what
most files at that rate carry: it only refines the sound's factor when the two agree, and lends no trust. The
direction is the factor's side of 1, so "sped up" never comes with a factor below 1. Where the two sources point
different ways the confidence halves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRONG_VIDEO_CONFIDENCE = 0.9  # a re-timing pattern at a factor no frame-rate conversion gives
VIDEO_CONFIDENCE = 0.6  # a weak pattern: a conversion ratio, a blend, unclear repeats or drops
STRONG_VIDEO_LOGIT = 5.0  # log-odds a fully confident strong pattern adds: more than a confident audio "natural"
WEAK_ALONE_LOGIT = 2.0  # per unit of the frames' confidence, a weak pattern without audio
NO_PATTERN_LOGIT = -0.5  # per unit of the frames' confidence when they show no re-timing at all
CONTRADICTED = 0.5  # confidence kept when the frames and the sound point different ways
AGREE_LOG2 = 0.26  # the sound's factor is +-10-20 %: within 2^0.26 = 1.2x of a conversion ratio it may be that
NOT_RETIMING = 0.3  # trust taken from the sound's verdict per unit of a conversion pattern's confidence


@dataclass(frozen=True)
class SpeedDecision:
    score: float  # probability-like: >= 0.5 means changed
    factor: float  # 1.0 when natural; > 1 sped up, < 1 slowed
    direction: str  # "natural", "slowed" or "sped_up": the side of 1 the factor is on
    confidence: float
    factor_from: str | None  # "video", "audio" or None (natural)
    contradicted: bool  # the frames' pattern and the sound's factor point different ways

    @property
    def changed(self) -> bool:
        return self.score >= 0.5


def direction_of(factor: float, changed: bool) -> str:
    if not changed or factor == 1.0:
        return "natural"
    return "slowed" if factor < 1.0 else "sped_up"


def decision_logit(audio_p: float | None, video) -> float:
    """Log-odds of "changed": the sound's probability plus what the frames add (video: a VideoSpeed or None)."""
    logit = 0.0
    if audio_p is not None:
        p = float(np.clip(audio_p, 1e-4, 1 - 1e-4))
        logit += float(np.log(p / (1 - p)))
    if video is None or video.confidence <= 0:
        return logit
    if video.strong:
        # A pattern just over its threshold is the null's tail (natural clips reach z 7.5 against 7.7; natural
        # LivePortrait d18 at its own size reaches 8.3, confidence 0.65) and adds nothing; the full weight needs a
        # margin of 2. With or without the sound: how far the frames' own evidence goes does not depend on it.
        return logit + STRONG_VIDEO_LOGIT * max(0.0, 2.0 * video.confidence - 1.0)
    if video.factor is not None and not lends_no_trust(video):
        # an unclear or composite re-timing only nudges the decision next to audio; alone it is all there is
        return logit + video.confidence * (1.0 if audio_p is not None else WEAK_ALONE_LOGIT)
    # no pattern, or one a conversion or blending explains as well as a speed change: the frames show no
    # re-timing of their own
    return logit + NO_PATTERN_LOGIT * video.confidence


def sound_strength(audio_p: float | None, audio_confidence: float) -> float:
    """How strongly the sound supports its own factor, on the frames' confidence scale: its confidence (at most
    0.5, the regression is +-10-20 %) times how sure it is of a change."""
    if audio_p is None:
        return 0.0
    return float(audio_confidence * abs(2.0 * float(audio_p) - 1.0))


def lends_no_trust(video) -> bool:
    """A pattern most natural files at that rate carry: a frame-rate conversion's (25 fps footage in a 30 fps file
    repeats one frame in six, LivePortrait s20 and s29), or a blend (x264's B-frames are near-blends, so natural
    clips show a blend pattern about as often as blended ones: 10 of 38 natural clips against a third to a half of
    blended ones, bench/video_speed_accuracy.py; natural LivePortrait d9 reads a 0.93x blend at full strength). It
    can refine the sound's factor, never make the change more likely or the reading more trusted."""
    return bool(video.rate_ratio) or video.method == "blend"


def fuse(audio_p: float | None, audio_factor: float | None, audio_confidence: float, video) -> SpeedDecision:
    """audio_p / audio_factor: the sound's p(changed) and factor estimate (None without judged speech);
    audio_confidence: how far its verdict is trusted (clip length); video: a VideoSpeed or None (no frames)."""
    score = float(1.0 / (1.0 + np.exp(-decision_logit(audio_p, video))))
    has_pattern = video is not None and video.factor is not None and video.confidence > 0
    video_confidence = 0.0
    if video is not None:
        video_confidence = (STRONG_VIDEO_CONFIDENCE if video.strong else VIDEO_CONFIDENCE) * video.confidence
    if score < 0.5:
        return SpeedDecision(score, 1.0, "natural", float(min(1.0, max(audio_confidence, video_confidence))),
                             None, False)
    sound_says = audio_factor if audio_p is not None and audio_p >= 0.5 else None
    watched = video is not None and video.confidence > 0
    contradicted = False
    if has_pattern and sound_says is not None:
        contradicted = (sound_says < 1.0) != (video.factor < 1.0)
    if has_pattern and video.strong:
        factor, source, confidence = float(video.factor), "video", video_confidence
    elif has_pattern and lends_no_trust(video) and sound_says is not None:
        # A conversion's or a blend's pattern is what many natural files carry: it refines the sound's factor
        # when the two agree (within AGREE) and lends no trust of its own (a natural 30 fps clip converted to
        # 60 fps, whose noisy sound read 0.75x, would otherwise be a confident 0.5x; a re-encode of natural d9 a
        # confident 0.25x)
        agree = abs(np.log2(sound_says / video.factor)) < AGREE_LOG2
        factor, source = (float(video.factor), "video") if agree else (float(sound_says), "audio")
        confidence = audio_confidence * (1.0 - video.confidence * NOT_RETIMING)
        if not agree and (sound_says < 1.0) != (video.factor < 1.0):
            confidence *= CONTRADICTED
    elif has_pattern and not contradicted and not lends_no_trust(video):
        factor, source, confidence = float(video.factor), "video", video_confidence
    elif (has_pattern and contradicted and not lends_no_trust(video)
          and video_confidence > sound_strength(audio_p, audio_confidence)):
        # the two point different ways: never a factor between them (it would sit on either side of 1), the
        # better-supported one, at half the trust. An unclear re-timing pattern usually is (a 1.25x copy whose
        # sound reads 0.88x); the sound's regression lands on the wrong side of 1 for 3-5 of 30 re-timed copies
        factor, source, confidence = float(video.factor), "video", video_confidence
    elif sound_says is not None:  # no pattern, or a weak one the other way: the sound's factor
        factor, source, confidence = float(sound_says), "audio", audio_confidence
        if watched and not has_pattern:
            confidence *= 1.0 - video.confidence  # the frames were watched and show no re-timing
    else:  # unreachable: without a pattern or the sound's "changed" every term of the logit is <= 0
        return SpeedDecision(min(score, 0.499), 1.0, "natural", float(min(1.0, max(audio_confidence, video_confidence))),
                             None, False)
    if contradicted and not video.strong and not lends_no_trust(video):
        confidence *= CONTRADICTED
    return SpeedDecision(score, factor, direction_of(factor, True), float(min(1.0, confidence)), source, contradicted)
