"""Cuts and splices in a video: hard cuts, jump cuts inside one shot, and audio splices, with their times.

Every measure compares one frame transition with its own neighbourhood, because what counts as "a big change"
depends on the clip (a still interview vs. a dancer):

* picture change: mean absolute difference of small grey thumbnails between consecutive analysed frames, over
  the 75th percentile of the same measure in the +-8 transitions around it (excluding the direct neighbours).
  The percentile, not the median, so that clips with duplicated frames (every other difference ~0) do not make
  ordinary motion look like a jump.
* face jump: mean displacement of the 478 landmarks of the main face, in inter-ocular distances, over its own
  local 75th percentile. A jump cut moves the head and the mouth at once; ordinary speech moves them smoothly.
* scene change: Bhattacharyya distance between hue/saturation histograms, and the fraction of changed thumbnail
  cells (dflab.faces.shots). A hard cut changes the whole picture; a jump cut keeps background and colours.
* audio: a spectral-flux outlier near the same instant (audio_splice.py) raises the confidence of a video cut; a
  very strong one on its own is reported as an audio splice.

Cut times are the time of the first frame after the cut, on the file's own timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dflab.faces.types import FaceTrack
from dflab.media.types import Audio, Frame
from dflab.shallow.audio_splice import audio_discontinuities, flux_series, zscore_near

CutKind = Literal["hard", "jump", "audio"]

WINDOW = 8  # transitions on each side that define "local"
PIXEL_FLOOR = 0.003  # thumbnail difference of a static shot (compression noise)
FACE_FLOOR = 0.01  # landmark jitter of a still face, in inter-ocular distances
HARD_CHANGED = 0.4  # changed-cell fraction of a whole-picture change (faces/shots.py measurements)
HARD_HIST = 0.05  # colour-histogram distance above which the two sides are different scenes
HARD_MIN_RATIO = 2.0  # a fast pan also changes many cells, but not many times more than its neighbours
JUMP_RATIO = 4.5  # picture change (or its geometric mean with the face jump) over the local level
JUMP_FACE_MIN = 2.5  # with a tracked face, the face itself must jump too
AUDIO_CONFIRM_Z = 6.0  # a flux outlier this strong within 60 ms confirms a video cut
AUDIO_ONLY_Z = 20.0  # and this strong on its own is an audio splice (natural peaks reach ~15 on the dev clips)
EDGE_TRANSITIONS = 1  # the first transition of a file often jumps (encoder start); not judged


@dataclass(frozen=True)
class Cut:
    time_s: float
    kind: CutKind
    confidence: float  # 0..1
    strength: float  # picture-change ratio (video cuts) or flux z-score (audio)
    audio_z: float = 0.0  # flux z-score near a video cut (0: no audio or nothing there)

    def to_json(self) -> dict:
        return {"time_s": round(self.time_s, 3), "type": self.kind, "confidence": round(self.confidence, 3),
                "strength": round(self.strength, 2), "audio_z": round(self.audio_z, 1)}  # fmt: skip


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
    extra: dict = field(default_factory=dict)


def _thumbs(frames: list[Frame]) -> tuple[np.ndarray, np.ndarray]:
    """Grey 36x64 thumbnails and 16x8 hue/saturation histograms, from strided frames (cheap at 1080p)."""
    import cv2

    greys, hists = [], []
    for frame in frames:
        rgb = frame.rgb
        step = max(1, min(rgb.shape[0] // 72, rgb.shape[1] // 128))
        small = cv2.resize(np.ascontiguousarray(rgb[::step, ::step]), (64, 36), interpolation=cv2.INTER_AREA)
        greys.append(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).ravel()
        hists.append(hist / max(float(hist.sum()), 1.0))
    return np.stack(greys), np.stack(hists)


def local_ratio(values: np.ndarray, floor: float, window: int = WINDOW) -> np.ndarray:
    """values[t] over the 75th percentile of values in t-window..t+window without t-1, t, t+1 (NaN-aware)."""
    n = len(values)
    out = np.full(n, np.nan)
    for t in range(1, n):
        if not np.isfinite(values[t]):
            continue
        idx = np.r_[max(1, t - window) : max(1, t - 1), min(n, t + 2) : min(n, t + window + 1)]
        around = values[idx]
        around = around[np.isfinite(around)]
        level = float(np.percentile(around, 75)) if len(around) >= 3 else floor
        out[t] = values[t] / max(level, floor)
    return out


def face_motion(tracks: list[FaceTrack], n_frames: int) -> np.ndarray:
    """Per frame t: landmark displacement of the largest face from frame t-1 to t, in inter-ocular distances.

    Observations are paired by box overlap across all tracks, because the face tracker itself ends a track at
    a suspected cut, and that is exactly the transition we need to measure."""
    from dflab.faces.detect import box_iou
    from dflab.faces.landmarks import inter_ocular_distance

    by_frame: dict[int, list] = {}
    for track in tracks:
        for obs in track.observations:
            by_frame.setdefault(obs.frame_pos, []).append(obs)
    out = np.full(n_frames, np.nan)
    for t in range(1, n_frames):
        best_area = 0.0
        for cur in by_frame.get(t, []):
            prev = max(by_frame.get(t - 1, []), key=lambda o: box_iou(o.box, cur.box), default=None)
            if prev is None or box_iou(prev.box, cur.box) < 0.2:
                continue
            area = (cur.box[2] - cur.box[0]) * (cur.box[3] - cur.box[1])
            iod = inter_ocular_distance(prev.landmarks)
            if area > best_area and iod > 1e-6:
                best_area = area
                out[t] = float(np.mean(np.linalg.norm(cur.landmarks[:, :2] - prev.landmarks[:, :2], axis=1))) / iod
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
    face = face_motion(tracks or [], n)
    return CutSignals(
        times=times, picture=picture, picture_ratio=local_ratio(picture, PIXEL_FLOOR), changed=changed,
        hist_distance=hist_distance, face=face, face_ratio=local_ratio(face, FACE_FLOOR),
    )  # fmt: skip


def _confidence(strength: float, threshold: float) -> float:
    """0.5 at the threshold, rising towards 1 at three times it."""
    return float(np.clip(0.5 + 0.25 * (strength - threshold) / threshold, 0.5, 0.99))


def classify_transitions(signals: CutSignals) -> list[Cut]:
    """Video cuts from the per-transition signals (pure: no audio)."""
    cuts: list[Cut] = []
    n = len(signals.times)
    for t in range(1 + EDGE_TRANSITIONS, n):
        ratio = float(signals.picture_ratio[t]) if np.isfinite(signals.picture_ratio[t]) else 0.0
        face_ratio = float(signals.face_ratio[t])
        whole_picture = signals.changed[t] > HARD_CHANGED and ratio >= HARD_MIN_RATIO
        if whole_picture and signals.hist_distance[t] >= HARD_HIST:
            cuts.append(Cut(float(signals.times[t]), "hard", _confidence(ratio, HARD_MIN_RATIO * 2), ratio))
            continue
        if np.isfinite(face_ratio):
            if face_ratio < JUMP_FACE_MIN:
                continue
            strength = float(np.sqrt(ratio * face_ratio))
        else:
            strength = ratio
        if strength >= JUMP_RATIO or (whole_picture and ratio >= JUMP_RATIO * 0.75):
            cuts.append(Cut(float(signals.times[t]), "jump", _confidence(strength, JUMP_RATIO), strength))
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
    video = classify_transitions(signals)
    series = flux_series(audio) if audio is not None else None
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
