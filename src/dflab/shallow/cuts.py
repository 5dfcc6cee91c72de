"""Cuts and splices in a video: hard cuts, jump cuts inside one shot, and audio splices, with their times.

Every measure compares one frame transition with its own neighbourhood, because what counts as "a big change"
depends on the clip (a still interview vs. a dancer):

* picture change: mean absolute difference of small grey thumbnails between consecutive analysed frames, over
  the 75th percentile of the same measure in the +-8 transitions around it (excluding the direct neighbours).
  The percentile, not the median, so that clips with duplicated frames (every other difference ~0) do not make
  ordinary motion look like a jump.
* face continuity (continuity.py): how much the main face's landmark motion changes against the neighbouring
  transitions (acceleration) and how much of it is non-rigid (expression), each over its local 75th percentile.
  A jump cut breaks both at once; fast natural motion is predictable from the frame before or after it.
  With a face, a jump cut needs all three (picture, acceleration, expression) together: their geometric mean is
  the evidence, and an audio flux outlier at the same instant lowers the bar a little.
* scene change: Bhattacharyya distance between hue/saturation histograms, and the fraction of changed thumbnail
  cells (dflab.faces.shots). A hard cut changes the whole picture; a jump cut keeps background and colours.
* audio: a spectral-flux outlier near the same instant (audio_splice.py) raises the confidence of a video cut and
  lowers the jump-cut bar; a very strong one on its own is reported as an audio splice.

Thresholds were set on a development variant of bench/cuts.py (--seed 11 --cuts-per-source 3), not on its
reported default run.

Cut times are the time of the first frame after the cut, on the file's own timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dflab.faces.types import FaceTrack
from dflab.media.types import Audio, Frame
from dflab.shallow.audio_splice import audio_discontinuities, flux_series, zscore_near
from dflab.shallow.continuity import face_steps

CutKind = Literal["hard", "jump", "audio"]

WINDOW = 8  # transitions on each side that define "local"
PIXEL_FLOOR = 0.003  # thumbnail difference of a static shot (compression noise)
FACE_FLOOR = 0.01  # landmark jitter of a still face, in inter-ocular distances
EXPRESSION_FLOOR = 0.005  # non-rigid landmark jitter of a still face, in inter-ocular distances
HARD_CHANGED = 0.4  # changed-cell fraction of a whole-picture change (faces/shots.py measurements)
HARD_HIST = 0.05  # colour-histogram distance above which the two sides are different scenes
HARD_MIN_RATIO = 2.0  # a fast pan also changes many cells, but not many times more than its neighbours
JUMP_RATIO = 4.5  # picture change over the local level, for a jump cut without a tracked face
JUMP_EVIDENCE = 3.7  # with a face: geometric mean of picture, acceleration and expression ratios
JUMP_EVIDENCE_AUDIO = 3.2  # the same when the audio jumps there too (z >= AUDIO_CONFIRM_Z); changed no dev-set decision
JUMP_ACCELERATION_MIN = 2.0  # with a face, its motion itself must break at least this much
AUDIO_CONFIRM_Z = 6.0  # a flux outlier this strong within 60 ms confirms a video cut
AUDIO_ONLY_Z = 20.0  # and this strong on its own is an audio splice (natural peaks reach ~15 on the dev clips)
EDGE_TRANSITIONS = 1  # the first transition of a file often jumps (encoder start); not judged


@dataclass(frozen=True)
class Cut:
    time_s: float
    kind: CutKind
    confidence: float  # 0..1
    strength: float  # evidence ratio over the local level (video cuts; see classify_transitions) or flux z (audio)
    audio_z: float = 0.0  # flux z-score near a video cut (0: no audio or nothing there)

    def to_json(self) -> dict:
        return {"time_s": round(self.time_s, 3), "type": self.kind, "confidence": round(self.confidence, 3),
                "strength": round(self.strength, 2), "audio_z": round(self.audio_z, 1)}  # fmt: skip


CUT_THUMB = "cut_thumb"  # the name of cut_thumb among the per-frame features a scan computes while decoding


@dataclass
class CutSignals:
    """Per analysed frame t: the change from frame t-1 to t (index 0 is the start: zeros / NaN)."""

    times: np.ndarray
    picture: np.ndarray  # mean abs thumbnail difference (0..1)
    picture_ratio: np.ndarray
    changed: np.ndarray  # fraction of changed thumbnail cells
    hist_distance: np.ndarray
    face: np.ndarray  # landmark displacement / inter-ocular distance, NaN where no face pair
    face_ratio: np.ndarray  # NaN where no face pair
    acceleration_ratio: np.ndarray | None = None  # face continuity breaks (continuity.py), NaN where no face pair
    expression_ratio: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def cut_thumb(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame's grey 36x64 thumbnail and 16x8 hue/saturation histogram, from a strided copy (cheap at 1080p).
    Computed while a scan decodes (StreamedFrames features), so the frames need not be kept for it."""
    import cv2

    step = max(1, min(rgb.shape[0] // 72, rgb.shape[1] // 128))
    small = cv2.resize(np.ascontiguousarray(rgb[::step, ::step]), (64, 36), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).ravel()
    return grey, hist / max(float(hist.sum()), 1.0)


def _thumbs(frames: list[Frame]) -> tuple[np.ndarray, np.ndarray]:
    """cut_thumb of every frame: the ones computed while decoding when the frames carry them."""
    feature = getattr(frames, "feature", None)
    pairs = feature(CUT_THUMB) if feature is not None else None
    if pairs is None:
        pairs = [cut_thumb(frame.rgb) for frame in frames]
    return np.stack([g for g, _ in pairs]), np.stack([h for _, h in pairs])


def local_ratio(values: np.ndarray, floor: float, window: int = WINDOW) -> np.ndarray:
    """values[t] over the 75th percentile of values in t-window..t+window without t-1, t, t+1 (NaN-aware).

    Vectorised (sorted windows, NaN last, linear interpolation like np.percentile): it runs on four signals."""
    from numpy.lib.stride_tricks import sliding_window_view

    n = len(values)
    out = np.full(n, np.nan)
    if n < 2:
        return out
    v = np.asarray(values, dtype=np.float64).copy()
    v[0] = np.nan  # index 0 has no transition
    padded = np.concatenate([np.full(window, np.nan), v, np.full(window, np.nan)])
    around = np.delete(sliding_window_view(padded, 2 * window + 1), [window - 1, window, window + 1], axis=1)
    around = np.sort(around, axis=1)
    count = np.isfinite(around).sum(axis=1)
    pos = 0.75 * np.maximum(count - 1, 0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    rows = np.arange(n)
    level = around[rows, lo] + (around[rows, hi] - around[rows, lo]) * (pos - lo)
    level = np.where(count >= 3, level, floor)
    out[1:] = v[1:] / np.maximum(level[1:], floor)
    return out


def cut_signals(frames: list[Frame], tracks: list[FaceTrack] | None = None) -> CutSignals:
    times = np.array([f.time_s for f in frames], dtype=np.float64)
    n = len(frames)
    greys, hists = _thumbs(frames) if n else (np.zeros((0, 36, 64)), np.zeros((0, 128)))
    picture = np.zeros(n)
    changed = np.zeros(n)
    hist_distance = np.zeros(n)
    if n > 1:
        diff = np.abs(greys[1:] - greys[:-1])
        picture[1:] = diff.mean(axis=(1, 2))
        cells = diff.reshape(n - 1, 9, 4, 16, 4).mean(axis=(2, 4))
        changed[1:] = (cells > 0.06).mean(axis=(1, 2))
        hist_distance[1:] = np.clip(1.0 - np.sqrt(hists[1:] * hists[:-1]).sum(axis=1), 0.0, 1.0)
    steps = face_steps(tracks or [], n, picture)
    return CutSignals(
        times=times, picture=picture, picture_ratio=local_ratio(picture, PIXEL_FLOOR), changed=changed,
        hist_distance=hist_distance, face=steps.displacement, face_ratio=local_ratio(steps.displacement, FACE_FLOOR),
        acceleration_ratio=local_ratio(steps.acceleration, FACE_FLOOR),
        expression_ratio=local_ratio(steps.expression, EXPRESSION_FLOOR),
    )  # fmt: skip


def _confidence(strength: float, threshold: float) -> float:
    """0.5 at the threshold, rising towards 1 at three times it."""
    return float(np.clip(0.5 + 0.25 * (strength - threshold) / threshold, 0.5, 0.99))


def face_evidence(picture_ratio: float, acceleration_ratio: float, expression_ratio: float) -> float:
    """Geometric mean of the three ratios: a jump cut must show in all of them, natural motion rarely does."""
    ratios = np.maximum([picture_ratio, acceleration_ratio, expression_ratio], 1e-3)
    return float(np.exp(np.mean(np.log(ratios))))


def classify_transitions(signals: CutSignals, audio_z: np.ndarray | None = None) -> list[Cut]:
    """Video cuts from the per-transition signals (pure); audio_z[t] = flux z-score near transition t, if any."""
    cuts: list[Cut] = []
    n = len(signals.times)
    nan = np.full(n, np.nan)
    acceleration = signals.acceleration_ratio if signals.acceleration_ratio is not None else nan
    expression = signals.expression_ratio if signals.expression_ratio is not None else nan
    for t in range(1 + EDGE_TRANSITIONS, n):
        ratio = float(signals.picture_ratio[t]) if np.isfinite(signals.picture_ratio[t]) else 0.0
        whole_picture = signals.changed[t] > HARD_CHANGED and ratio >= HARD_MIN_RATIO
        if whole_picture and signals.hist_distance[t] >= HARD_HIST:
            cuts.append(Cut(float(signals.times[t]), "hard", _confidence(ratio, HARD_MIN_RATIO * 2), ratio))
            continue
        if np.isfinite(acceleration[t]) and np.isfinite(expression[t]):
            if acceleration[t] < JUMP_ACCELERATION_MIN:
                continue
            strength = face_evidence(ratio, float(acceleration[t]), float(expression[t]))
            heard = audio_z is not None and audio_z[t] >= AUDIO_CONFIRM_Z
            threshold = JUMP_EVIDENCE_AUDIO if heard else JUMP_EVIDENCE
        else:
            strength, threshold = ratio, JUMP_RATIO
        if strength >= threshold or (whole_picture and ratio >= JUMP_RATIO * 0.75):
            cuts.append(Cut(float(signals.times[t]), "jump", _confidence(strength, threshold), strength))
    return _keep_local_maxima(cuts, signals)


def _keep_local_maxima(cuts: list[Cut], signals: CutSignals, min_gap_s: float = 0.2) -> list[Cut]:
    """A cut shows up at one transition; neighbours within min_gap_s keep only the strongest."""
    kept: list[Cut] = []
    for cut in sorted(cuts, key=lambda c: -c.strength):
        if all(abs(cut.time_s - k.time_s) >= min_gap_s for k in kept):
            kept.append(cut)
    return sorted(kept, key=lambda c: c.time_s)


def find_cuts(frames: list[Frame], tracks: list[FaceTrack] | None = None, audio: Audio | None = None) -> tuple[list[Cut], CutSignals]:
    """All cuts in a clip, time-ordered, with the signals behind them (for plots and explanations)."""
    signals = cut_signals(frames, tracks)
    series = flux_series(audio) if audio is not None else None
    audio_z = np.array([zscore_near(series, t) for t in signals.times]) if series is not None else None
    video = classify_transitions(signals, audio_z)
    cuts: list[Cut] = []
    for cut in video:
        z = zscore_near(series, cut.time_s)
        confidence = min(0.99, cut.confidence + 0.2) if z >= AUDIO_CONFIRM_Z else cut.confidence
        cuts.append(Cut(cut.time_s, cut.kind, confidence, cut.strength, z))
    for time_s, z in audio_discontinuities(audio, AUDIO_ONLY_Z) if series is not None else []:
        if all(abs(time_s - c.time_s) > 0.1 for c in video):
            cuts.append(Cut(time_s, "audio", _confidence(z, AUDIO_ONLY_Z), z, z))
    if series is not None:
        signals.extra["audio_times"], signals.extra["audio_z"] = series.times, series.zscore
    return sorted(cuts, key=lambda c: c.time_s), signals
