"""Helpers for detector tests: real photos and faces pasted into them with a hard seam."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dflab.config import SamplingPolicy
from dflab.detect.context import AnalysedMedia
from dflab.faces import analyse
from dflab.faces import landmarks as lm
from dflab.media import load, write_image


def analysed(path: Path) -> AnalysedMedia:
    media = load(path)
    return AnalysedMedia(media, analyse(media, face_rate_fps=SamplingPolicy().face_rate_fps))


@pytest.fixture(scope="session")
def analyse_file():
    """Decode a file and find its faces, as the scanner does."""
    return analysed


def _key_points(points: np.ndarray) -> np.ndarray:
    left, right = lm.eye_centers(points)
    return np.float32([left, right, points[lm.NOSE_TIP, :2], points[lm.MOUTH_LEFT, :2], points[lm.MOUTH_RIGHT, :2]])


def paste_face(target: AnalysedMedia, source: AnalysedMedia) -> np.ndarray:
    """The classic swap without the learning: the source face warped onto the target's landmarks and
    pasted through the eyebrows-to-chin hull with a hard edge (no blending, no colour correction)."""
    t_obs = target.tracks[0].observations[0]
    s_obs = source.tracks[0].observations[0]
    matrix, _ = cv2.estimateAffinePartial2D(_key_points(s_obs.landmarks), _key_points(t_obs.landmarks))
    frame = target.media.frames[0].rgb
    warped = cv2.warpAffine(source.media.frames[0].rgb, matrix, (frame.shape[1], frame.shape[0]))
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(_hull_points(t_obs.landmarks)), 1)
    return np.where(mask[..., None] > 0, warped, frame).astype(np.uint8)


def _hull_points(points: np.ndarray) -> np.ndarray:
    # The same region the boundary cue watches, computed in frame coordinates.
    xy = points[:, :2]
    brow_top = xy[[70, 63, 105, 66, 107, 336, 296, 334, 293, 300], 1].min()
    return xy[xy[:, 1] >= brow_top].astype(np.int32)


@pytest.fixture(scope="session")
def seam_pair(shared_data, tmp_path_factory):
    """(untouched real photo, the same photo with another person's face pasted in), as analysed media."""
    out = tmp_path_factory.mktemp("seam")
    target = analysed(shared_data / "face_recognition/examples/obama.jpg")
    source = analysed(shared_data / "face_recognition/examples/biden.jpg")
    fake_path = out / "obama_with_pasted_face.png"
    write_image(fake_path, paste_face(target, source))
    real_path = out / "obama.png"
    write_image(real_path, target.media.frames[0].rgb)
    return analysed(real_path), analysed(fake_path)


@pytest.fixture(scope="session")
def real_face_crops(shared_data) -> np.ndarray:
    """Five face crops of a real clip, aligned as the face-crop network's meta asks (every 10th frame)."""
    import av

    from dflab.detect.learned.face_crop_model import CROP_SIZE, PADDING
    from dflab.faces import align
    from dflab.faces.detect import find_faces_in_image

    crops = []
    with av.open(str(shared_data / "liveportrait/assets/examples/driving/d0.mp4")) as container:
        for i, frame in enumerate(container.decode(container.streams.video[0])):
            if i % 10 == 0:
                rgb = frame.to_ndarray(format="rgb24")
                face = find_faces_in_image(rgb, 1)[0]
                crops.append(align(rgb, face.landmarks, CROP_SIZE, PADDING)[0])
            if len(crops) == 5:
                break
    return np.stack(crops)
