"""MesoNet as a published baseline: `dflab eval --baseline mesonet` scores every file with it beside dflab.

The authors' Keras weights are third-party files that stay in ../shared/data/mesonet/weights (never copied
into the project); they are looked up in $DFLAB_MESONET_DIR, then $DFLAB_SHARED_DATA/mesonet/weights, then
../shared/data/mesonet/weights beside the repository. The network (mesonet_net.py) outputs P(real): the
authors' loader sorted the class folders by name, "df" = 0 and "real" = 1, and the published example
prints ~1 for real faces. Every function here returns P(fake) = 1 - that.

Input preparation follows the authors' extraction pipeline as far as our face stack allows: a square
centred between the nose tip and the nose bridge, side 1.3 x 2.2 x max(eye distance, eyes-to-mouth
distance), rotated so that the eyes-to-mouth line is vertical, resized to 256 x 256, RGB in [0, 1]. For
video, up to MAX_FRAMES frames sampled across the clip are scored and averaged; an image without a face is
scored whole (resized), as the authors' test images are already face crops.

The baselines "mesonet" (Meso4 trained on deepfakes, the authors' headline model) and "mesoinception"
(MesoInception4, deepfakes) are registered by dflab.eval.mesonet_baseline; the Face2Face variants are
available through `MesoNetScorer`.
"""

from __future__ import annotations

import dataclasses
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from dflab.errors import NoFace, UsageError

WEIGHT_FILES = {
    "meso4_df": "Meso4_DF.h5",
    "meso4_f2f": "Meso4_F2F.h5",
    "mesoinception_df": "MesoInception_DF.h5",
    "mesoinception_f2f": "MesoInception_F2F.h5",
}
SIDE = 256
CROP_SCALE = 2.2 * 1.3  # the authors' K = 2.2 times their final 1.3 zoom-out
MAX_FRAMES = 16
SAMPLE_FPS = 2.0
_REPO = Path(__file__).resolve().parents[4]


def weights_dir() -> Path:
    """Where the .h5 files are; UsageError naming every place looked at when none holds them."""
    candidates = []
    if os.environ.get("DFLAB_MESONET_DIR"):
        candidates.append(Path(os.environ["DFLAB_MESONET_DIR"]))
    if os.environ.get("DFLAB_SHARED_DATA"):
        candidates.append(Path(os.environ["DFLAB_SHARED_DATA"]) / "mesonet" / "weights")
    candidates.append(_REPO.parent / "shared" / "data" / "mesonet" / "weights")
    for folder in candidates:
        if (folder / WEIGHT_FILES["meso4_df"]).is_file():
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise UsageError(
        f"MesoNet weights not found (looked in {looked}); set DFLAB_MESONET_DIR to the folder holding "
        f"{WEIGHT_FILES['meso4_df']} (the authors' published weights, kept outside the project)"
    )


@lru_cache(maxsize=4)
def load_network(variant: str = "meso4_df"):
    """The PyTorch network with the authors' weights, in eval mode (cached per process)."""
    from dflab.detect.learned.mesonet_net import MesoNet, load_keras_weights

    if variant not in WEIGHT_FILES:
        raise UsageError(f"unknown MesoNet variant {variant!r}; known: {', '.join(WEIGHT_FILES)}")
    path = weights_dir() / WEIGHT_FILES[variant]
    if not path.is_file():
        raise UsageError(f"MesoNet weight file {path} is missing")
    return load_keras_weights(MesoNet(inception=variant.startswith("mesoinception")), path)


def p_fake(crops: np.ndarray, variant: str = "meso4_df") -> np.ndarray:
    """P(fake) per crop, from (N, 256, 256, 3) uint8 RGB crops."""
    import torch

    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1:] != (SIDE, SIDE, 3):
        raise ValueError(f"crops must be (N, {SIDE}, {SIDE}, 3), got {crops.shape}")
    x = torch.from_numpy(crops.astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    with torch.no_grad():
        p_real = load_network(variant)(x).numpy().astype(np.float64)
    return 1.0 - p_real


def face_crop(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The authors' face crop from 478 MediaPipe landmarks (see the module docstring), 256x256 uint8."""
    import cv2

    from dflab.faces import landmarks as lm

    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    left, right = lm.eye_centers(pts)
    eyes = (left + right) / 2.0
    mouth = (pts[lm.MOUTH_LEFT] + pts[lm.MOUTH_RIGHT] + pts[lm.UPPER_LIP_INNER] + pts[lm.LOWER_LIP_INNER]) / 4.0
    centre = (pts[lm.NOSE_TIP] + pts[6]) / 2.0  # 6: the nose bridge between the eyes
    side = CROP_SCALE * max(np.linalg.norm(right - left), np.linalg.norm(mouth - eyes), 1.0)
    down = mouth - eyes
    angle = np.arctan2(down[0], down[1])  # rotation that makes eyes -> mouth point straight down
    scale = SIDE / side
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    matrix = np.array([[cos, -sin, 0.0], [sin, cos, 0.0]])
    matrix[:, 2] = SIDE / 2.0 - matrix[:, :2] @ centre
    return cv2.warpAffine(rgb, matrix, (SIDE, SIDE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT_101)


def whole_image(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def file_crops(path: str | Path, max_frames: int = MAX_FRAMES) -> tuple[np.ndarray, int]:
    """(crops, n_faces): the largest face of up to `max_frames` sampled frames; for an image without a
    face, the whole image (n_faces = 0). A video without any face raises NoFace."""
    from dflab.config import SamplingPolicy
    from dflab.faces import analyse
    from dflab.media import load

    media = load(Path(path), policy=SamplingPolicy(all_frames_up_to_s=0.0, rate_fps=SAMPLE_FPS), with_audio=False,
                 require_video=True)
    if not media.frames:
        raise NoFace(f"{path} has no frames to look at")
    keep = np.unique(np.linspace(0, len(media.frames) - 1, min(max_frames, len(media.frames))).round().astype(int))
    media = dataclasses.replace(media, frames=[media.frames[i] for i in keep])
    largest: dict[int, tuple[float, np.ndarray]] = {}
    for track in analyse(media, max_faces=2, embed_every_s=None):
        for obs in track.observations:
            area = (obs.box[2] - obs.box[0]) * (obs.box[3] - obs.box[1])
            if obs.frame_pos not in largest or area > largest[obs.frame_pos][0]:
                largest[obs.frame_pos] = (area, obs.landmarks)
    crops = [face_crop(media.frames[pos].rgb, points) for pos, (_, points) in sorted(largest.items())]
    if crops:
        return np.stack(crops), len(crops)
    if media.media_type == "image":
        return whole_image(media.frames[0].rgb)[None], 0
    raise NoFace(f"{path}: no face found in {len(media.frames)} sampled frames")


_last_crops: dict[str, tuple[np.ndarray, int]] = {}  # the last file's crops, shared by the variants


def _cached_crops(path: Path) -> tuple[np.ndarray, int]:
    key = f"{path.resolve()}:{path.stat().st_mtime_ns}"
    if key not in _last_crops:
        _last_crops.clear()
        _last_crops[key] = file_crops(path)
    return _last_crops[key]


@dataclasses.dataclass(frozen=True)
class MesoNetScorer:
    """A baseline scorer: `scorer(path) -> P(fake)` averaged over the sampled face crops."""

    variant: str = "meso4_df"

    def ready(self) -> None:
        """Fail now (UsageError) when the weights are absent, rather than once per file."""
        load_network(self.variant)

    def __call__(self, path: str | Path) -> float:
        crops, _ = _cached_crops(Path(path))
        return float(np.mean(p_fake(crops, self.variant)))

