"""Motion continuity of the main face: how well one frame's landmarks follow from their neighbours.

A jump cut inside one shot of a talking head often changes the picture less than a quick gesture does, so the
size of a change is a weak cue. What a cut breaks is continuity: natural motion has inertia (the landmark motion
from t-1 to t looks like the motion from t-2 to t-1 or from t to t+1, even when it is fast), and the face's
expression changes gradually. Two measures per transition t-1 -> t, both in inter-ocular distances:

* acceleration: the mean change of the per-landmark motion vectors against the more similar of the two
  neighbouring transitions. A head turn that starts or stops abruptly matches one side; a cut matches neither.
* expression change: what is left of the landmark motion after the best 3-D similarity (head rotation, including
  turns, plus scale and shift) is taken out: mouth, eyes and brows jumping to another moment of speech.

Pure functions over landmark arrays; observations are paired across tracks by box overlap (the tracker ends a
track at a suspected cut, which is exactly the transition we need to measure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.faces.types import FaceObservation, FaceTrack

MIN_PAIR_IOU = 0.2  # the same face in two consecutive frames overlaps at least this much


@dataclass(frozen=True)
class FaceSteps:
    """Per analysed frame t (index 0 and unpaired frames: NaN), the main face's change from frame t-1 to t."""

    displacement: np.ndarray  # (n,) mean landmark displacement / inter-ocular distance
    acceleration: np.ndarray  # (n,) change of motion against the closer neighbouring transition
    expression: np.ndarray  # (n,) non-rigid part of the displacement


def nonrigid_residual(before: np.ndarray, after: np.ndarray) -> float:
    """Mean 2-D distance between `after` and the best 3-D similarity transform of `before` (Umeyama, no scaling
    of the result: in the landmarks' own pixel units). Points are (N, 3) FaceMesh landmarks."""
    p = before[:, :3].astype(np.float64)
    q = after[:, :3].astype(np.float64)
    p, q = p - p.mean(axis=0), q - q.mean(axis=0)
    var = float((p**2).sum())
    if var <= 1e-12:
        return float("nan")
    u, sig, vt = np.linalg.svd(p.T @ q)
    sign = np.eye(3)
    sign[2, 2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ sign @ vt
    scale = float((sig * np.diag(sign)).sum()) / var
    residual = q - scale * p @ rot
    return float(np.mean(np.linalg.norm(residual[:, :2], axis=1)))


MAX_PAIR_GAP = 4  # frames between two observations still paired (faces are tracked on a subset of frames)


def paired_observations(tracks: list[FaceTrack], n_frames: int) -> list[tuple[FaceObservation, FaceObservation] | None]:
    """Per frame t: (observation at the previous observed frame, observation at t) of the largest face seen in
    both, else None. With faces on every frame the previous observed frame is t-1; with faces on a subset (every
    2nd frame, say) it is the one before, at most MAX_PAIR_GAP frames back."""
    from dflab.faces.detect import box_iou

    by_frame: dict[int, list[FaceObservation]] = {}
    for track in tracks:
        for obs in track.observations:
            by_frame.setdefault(obs.frame_pos, []).append(obs)
    observed = sorted(by_frame)
    pairs: list[tuple[FaceObservation, FaceObservation] | None] = [None] * n_frames
    for before, t in zip(observed, observed[1:]):
        if t >= n_frames or t - before > MAX_PAIR_GAP:
            continue
        best_area = 0.0
        for cur in by_frame[t]:
            prev = max(by_frame[before], key=lambda o: box_iou(o.box, cur.box), default=None)
            if prev is None or box_iou(prev.box, cur.box) < MIN_PAIR_IOU:
                continue
            area = (cur.box[2] - cur.box[0]) * (cur.box[3] - cur.box[1])
            if area > best_area:
                best_area, pairs[t] = area, (prev, cur)
    return pairs


def face_steps(tracks: list[FaceTrack], n_frames: int, picture: np.ndarray | None = None) -> FaceSteps:
    """The main face's change per transition. When the two observations of a pair are g > 1 frames apart, the
    change is divided by g (motion per frame) and put on the transition among them where the picture changed
    most (`picture`, per frame: the change into it; default the last), which is where a cut would be."""
    from dflab.faces.landmarks import inter_ocular_distance

    displacement = np.full(n_frames, np.nan)
    expression = np.full(n_frames, np.nan)
    vectors: dict[int, np.ndarray] = {}
    for t, pair in enumerate(paired_observations(tracks, n_frames)):
        if pair is None:
            continue
        prev, cur = pair
        iod = inter_ocular_distance(prev.landmarks)
        if iod <= 1e-6:
            continue
        gap = max(1, cur.frame_pos - prev.frame_pos)
        at = t
        if gap > 1 and picture is not None and len(picture) == n_frames:
            at = t - gap + 1 + int(np.argmax(picture[t - gap + 1 : t + 1]))
        vectors[at] = (cur.landmarks[:, :2] - prev.landmarks[:, :2]) / (iod * gap)
        displacement[at] = float(np.mean(np.linalg.norm(vectors[at], axis=1)))
        expression[at] = nonrigid_residual(prev.landmarks, cur.landmarks) / (iod * gap)
    return FaceSteps(displacement, acceleration_of(vectors, n_frames), expression)


def acceleration_of(vectors: dict[int, np.ndarray], n_frames: int) -> np.ndarray:
    """Per transition t: mean |v_t - v_u| over landmarks for the neighbouring measured transition u (the one
    before and the one after, at most MAX_PAIR_GAP frames away; t-1 and t+1 when faces are on every frame) that
    matches best."""
    out = np.full(n_frames, np.nan)
    keys = sorted(vectors)
    for i, t in enumerate(keys):
        v = vectors[t]
        neighbours = [u for u in keys[max(0, i - 1) : i] + keys[i + 1 : i + 2] if abs(u - t) <= MAX_PAIR_GAP]
        changes = [float(np.mean(np.linalg.norm(v - vectors[u], axis=1))) for u in neighbours]
        if changes:
            out[t] = min(changes)
    return out
