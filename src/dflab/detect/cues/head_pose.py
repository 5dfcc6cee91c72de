"""Head-pose inconsistency (Yang, Li & Lyu 2019). A face swap replaces the central face (eyes, nose,
mouth) but keeps the outline of the original head, so the 3-D pose implied by the central landmarks can
disagree with the pose implied by the whole face. We estimate both rotations per frame by rigid
(Kabsch) alignment of the 3-D mesh landmarks to the track's own mean shape and report the angle
between them."""

from __future__ import annotations

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector
from dflab.detect.timeline import flagged_ranges, sigmoid
from dflab.faces import landmarks as lm
from dflab.faces.types import FaceTrack

# Logistic over the median angle; unedited development clips measured 0.45-1.8 deg (median per clip).
ANGLE_CENTRE_DEG, ANGLE_SCALE_DEG = 3.0, 0.7
MIN_OBSERVATIONS = 5


def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation R minimising ||R @ (source - mean) - (target - mean)|| (both (N, 3))."""
    a = source - source.mean(axis=0)
    b = target - target.mean(axis=0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def rotation_angle_deg(r1: np.ndarray, r2: np.ndarray) -> float:
    cos = (np.trace(r1.T @ r2) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _normalised(points: np.ndarray) -> np.ndarray:
    centred = points - points.mean(axis=0)
    return centred / (np.linalg.norm(centred) + 1e-9)


def pose_disagreement(track: FaceTrack) -> np.ndarray:
    """Per observation: degrees between the central-face and whole-face rotations."""
    shapes = np.stack([_normalised(o.landmarks[:, :3].astype(np.float64)) for o in track.observations])
    whole, central = list(lm.WHOLE_FACE_POINTS), list(lm.CENTRAL_FACE_POINTS)
    # Mean shape: every observation rotated onto the first one (one Procrustes pass is enough here).
    reference = shapes[0]
    aligned = [s @ kabsch(s[whole], reference[whole]).T for s in shapes]
    mean_shape = np.mean(aligned, axis=0)
    angles = []
    for shape in shapes:
        r_whole = kabsch(mean_shape[whole], shape[whole])
        r_central = kabsch(mean_shape[central], shape[central])
        angles.append(rotation_angle_deg(r_whole, r_central))
    return np.array(angles)


@register_detector("head_pose")
class HeadPoseDetector:
    media_types = ("video",)
    needs_faces = True

    def detect(self, media: AnalysedMedia) -> Evidence:
        tracks = [t for t in media.tracks if len(t) >= MIN_OBSERVATIONS]
        if not tracks:
            return not_applicable(self.name, "Head pose needs a face followed over several frames.")
        per_track = {t.track_id: (t, pose_disagreement(t)) for t in tracks}
        main = max(per_track, key=lambda tid: len(per_track[tid][0]))
        track, angles = per_track[main]
        times = np.array([o.time_s for o in track.observations])
        frame_score = sigmoid((angles - ANGLE_CENTRE_DEG) / ANGLE_SCALE_DEG)
        median_angle = float(np.median(angles))
        score = float(sigmoid((median_angle - ANGLE_CENTRE_DEG) / ANGLE_SCALE_DEG))
        judgement = "the central face turns differently from the head" if score >= 0.6 else "consistent" if score < 0.45 else "borderline"
        return Evidence(
            name=self.name,
            score=score,
            confidence=float(min(0.6, len(angles) / 100.0)),
            summary=f"Head pose from the central face and from the whole face differ by {median_angle:.1f} deg "
            f"(median; 95th percentile {np.percentile(angles, 95):.1f} deg): {judgement}.",
            time_ranges=flagged_ranges(times, frame_score >= 0.6),
            times=times,
            series={"score": frame_score, "angle_deg": angles},
            track_scores={tid: float(sigmoid((np.median(a) - ANGLE_CENTRE_DEG) / ANGLE_SCALE_DEG)) for tid, (_, a) in per_track.items()},
            details={"median_angle_deg": round(median_angle, 3)},
        )
