"""Face crops aligned to one canonical frame, shared by the cues that compare regions or frames.

Aligning every observation of a track to the same template means a pixel position means the same part of
the face in every frame, so temporal differences measure flicker rather than head motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.faces import landmarks as lm
from dflab.faces.types import FaceObservation, FaceTrack

CROP = 128  # px; enough for colour and boundary statistics, cheap to warp (~0.1 ms)
BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)  # upper eyebrow points (both sides)


@dataclass
class AlignedTrack:
    crops: np.ndarray  # (N, CROP, CROP, 3) uint8 RGB
    matrices: np.ndarray  # (N, 2, 3) frame -> crop affine
    points: np.ndarray  # (N, 478, 2) landmarks in crop coordinates
    frame_pos: np.ndarray  # (N,) positions in Media.frames
    times: np.ndarray  # (N,) seconds


def _template() -> np.ndarray:
    """Eye centres, nose tip and mouth centre of a frontal face in the crop, as fractions of CROP."""
    return np.float32([[0.34, 0.40], [0.66, 0.40], [0.50, 0.58], [0.50, 0.74]]) * CROP


def _key_points(points: np.ndarray) -> np.ndarray:
    left, right = lm.eye_centers(points)
    mouth = (points[lm.MOUTH_LEFT, :2] + points[lm.MOUTH_RIGHT, :2]) / 2.0
    return np.float32([left, right, points[lm.NOSE_TIP, :2], mouth])


AHEAD_KEY = "aligned_ahead"  # AnalysedMedia.cache key of the crops made while the faces were found


class AlignedAhead:
    """Aligned crops made while the face stage has each frame's pixels (`analyse_frames(observed=...)`).

    Without them `align_track` reads every observation's frame again, which for a streamed video means a
    second decode of the whole clip. The crops are the ones `align_track` would make from the same pixels
    and landmarks; an observation whose alignment fails is left out and aligned later as before."""

    def __init__(self) -> None:
        self._crops: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, rgb: np.ndarray, observations: list[FaceObservation]) -> None:
        for obs in observations:
            matrix = _matrix(obs)
            if matrix is not None:
                self._crops[_key(obs)] = (_warp(rgb, matrix), matrix)

    def get(self, obs: FaceObservation) -> tuple[np.ndarray, np.ndarray] | None:
        return self._crops.get(_key(obs))

    def take(self, obs: FaceObservation) -> tuple[np.ndarray, np.ndarray] | None:
        """The crop made ahead, forgotten here: `align_track` stacks it into the track's crops (kept in the
        subject's cache), and a second copy of every crop would grow with the clip's length."""
        return self._crops.pop(_key(obs), None)

    def __len__(self) -> int:
        return len(self._crops)


def _key(obs: FaceObservation) -> tuple:
    return obs.frame_pos, obs.box


def _matrix(obs: FaceObservation) -> np.ndarray | None:
    matrix, _ = cv2.estimateAffinePartial2D(_key_points(obs.landmarks), _template(), method=cv2.LMEDS)
    return matrix


def _warp(rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(rgb, matrix, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def align_track(subject: AnalysedMedia, track: FaceTrack) -> AlignedTrack:
    key = ("aligned", track.track_id)
    if key in subject.cache:
        return subject.cache[key]
    ahead: AlignedAhead | None = subject.cache.get(AHEAD_KEY)
    # Filled in place rather than stacked from a list: the crops made ahead are freed one by one as they are
    # copied in, so the track's crops never exist twice (1,800 observations of 128x128 are 88 MB).
    crops = np.empty((len(track.observations), CROP, CROP, 3), np.uint8)
    mats, pts = [], []
    for i, obs in enumerate(track.observations):
        made = ahead.take(obs) if ahead is not None else None
        if made is not None:
            crop, matrix = made
        else:
            matrix = _matrix(obs)
            if matrix is None:  # degenerate landmarks: reuse the previous transform
                matrix = mats[-1] if mats else np.float64([[1, 0, 0], [0, 1, 0]])
            crop = _warp(subject.frame(obs.frame_pos), matrix)
        crops[i] = crop
        mats.append(matrix)
        xy = obs.landmarks[:, :2]
        pts.append(xy @ matrix[:, :2].T + matrix[:, 2])
    result = AlignedTrack(
        crops=crops,
        matrices=np.stack(mats),
        points=np.stack(pts).astype(np.float32),
        frame_pos=np.array([o.frame_pos for o in track.observations]),
        times=np.array([o.time_s for o in track.observations], dtype=np.float64),
    )
    subject.cache[key] = result
    return result


def swap_region_mask(points: np.ndarray, size: int = CROP) -> np.ndarray:
    """The region a classic face swap replaces: eyebrows down to the chin (the hull of the 68-point
    landmarks that DeepFakes/FaceSwap blend), as a uint8 0/1 mask."""
    brow_top = points[list(BROWS), 1].min()
    region = points[points[:, 1] >= brow_top - 1.0]
    hull = cv2.convexHull(region.astype(np.int32))
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask


def rings(mask: np.ndarray, width: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band on the mask edge, interior well inside it, ring well outside it), as booleans."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    dilated = cv2.dilate(mask, kernel)
    eroded = cv2.erode(mask, kernel)
    band = (dilated > 0) & (eroded == 0)
    interior = cv2.erode(eroded, kernel, iterations=2) > 0
    outside = (cv2.dilate(dilated, kernel, iterations=2) > 0) & (dilated == 0)
    return band, interior, outside


def longest_track(subject: AnalysedMedia) -> FaceTrack:
    return max(subject.tracks, key=len)
