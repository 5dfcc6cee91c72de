"""A faceset: aligned face crops of one person, with their landmarks, masks and source frame indices.

Layout of a FACESET directory (what `dflab swap extract` writes and `swap train` reads):
    faces/000000.png ...   aligned RGB crops (canonical template of faces.align, padding FACESET_PADDING)
    masks/000000.png ...   face-oval masks (uint8 0/255) in crop pixels
    faceset.npz            names, (N, 478, 2) crop-pixel landmarks, frame indices, source index, sharpness
    faceset.json           version, crop size, padding, sources (path, sha256, frames), counts
Crops are files so a person can look through them and delete bad ones: reading uses only the crops still there.

Reading (`read_faceset`) needs only numpy and Pillow, so training runs where mediapipe/dlib/PyAV are absent.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dflab.errors import IntegrityError, NotFound, UsageError

FACESET_VERSION = 1
FACESET_PADDING = 0.25  # the faces.align default: a quarter face of context for the blender's seam
MIN_TRAIN_FACES = 8  # below this a decoder can only memorise, never generalise: refused by training
NPZ_NAME, JSON_NAME = "faceset.npz", "faceset.json"


@dataclass
class Faceset:
    """An in-memory faceset: crops (N, S, S, 3) uint8 RGB, masks (N, S, S) float32 in [0, 1]."""

    path: Path
    size: int
    faces: np.ndarray
    masks: np.ndarray
    landmarks: np.ndarray  # (N, 478, 2) crop pixels
    frame_indices: np.ndarray  # source stream frame index per face
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def name(self) -> str:
        return self.path.name


def _read_png(path: Path, mode: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert(mode))
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"faceset image {path} cannot be read ({exc})") from None


def read_faceset(path: str | Path, min_faces: int = MIN_TRAIN_FACES) -> Faceset:
    """Load a faceset directory; refuses missing, damaged or too small sets with a clear error."""
    root = Path(path)
    if not root.exists():
        raise NotFound(f"faceset {root} does not exist")
    meta_path, npz_path = root / JSON_NAME, root / NPZ_NAME
    if not root.is_dir() or not meta_path.is_file() or not npz_path.is_file():
        raise UsageError(f"{root} is not a faceset (no {JSON_NAME}/{NPZ_NAME}); make one with `dflab swap extract`")
    try:
        info = json.loads(meta_path.read_text())
        with np.load(npz_path, allow_pickle=False) as data:
            names = [str(n) for n in data["names"]]
            landmarks = data["landmarks"].astype(np.float32)
            frames = data["frame_indices"].astype(np.int64)
    except (OSError, ValueError, KeyError) as exc:
        raise IntegrityError(f"faceset {root} is damaged ({exc})") from None
    if info.get("version") != FACESET_VERSION:
        raise IntegrityError(f"faceset {root} has version {info.get('version')!r}, expected {FACESET_VERSION}")
    keep = [i for i, n in enumerate(names) if (root / "faces" / n).is_file() and (root / "masks" / n).is_file()]
    if len(keep) < min_faces:
        raise UsageError(
            f"faceset {root} has {len(keep)} face(s); training needs at least {min_faces} "
            "(extract from a longer video or more photos)"
        )
    size = int(info["size"])
    faces = np.stack([_read_png(root / "faces" / names[i], "RGB") for i in keep])
    masks = np.stack([_read_png(root / "masks" / names[i], "L") for i in keep]).astype(np.float32) / 255.0
    if faces.shape[1:3] != (size, size) or masks.shape[1:] != (size, size):
        raise IntegrityError(f"faceset {root}: crops are not all {size}x{size}")
    return Faceset(root, size, faces, masks, landmarks[keep], frames[keep], info)


def write_faceset(
    out: str | Path,
    faces: list[np.ndarray],
    masks: list[np.ndarray],
    landmarks: list[np.ndarray],
    frame_indices: list[int],
    source_index: list[int],
    sharpness: list[float],
    info: dict,
) -> Path:
    """Write a faceset directory atomically: built in a temporary sibling, then renamed into place."""
    from PIL import Image

    root = Path(out)
    if root.exists():
        raise UsageError(f"output {root} already exists (choose another path)")
    if not root.parent.is_dir():
        raise UsageError(f"output directory {root.parent} does not exist")
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        (tmp / "faces").mkdir()
        (tmp / "masks").mkdir()
        names = [f"{i:06d}.png" for i in range(len(faces))]
        for name, face, mask in zip(names, faces, masks):
            Image.fromarray(face).save(tmp / "faces" / name)
            Image.fromarray(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)).save(tmp / "masks" / name)
        np.savez_compressed(
            tmp / NPZ_NAME,
            names=np.array(names),
            landmarks=np.asarray(landmarks, np.float32).reshape(len(faces), -1, 2),
            frame_indices=np.asarray(frame_indices, np.int64),
            source_index=np.asarray(source_index, np.int64),
            sharpness=np.asarray(sharpness, np.float32),
        )
        (tmp / JSON_NAME).write_text(json.dumps({"version": FACESET_VERSION, **info, "count": len(faces)}, indent=1))
        os.replace(tmp, root)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
