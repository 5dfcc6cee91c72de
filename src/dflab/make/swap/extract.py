"""`dflab swap extract`: find one person's face in a video (or a folder of photos/videos) and build a faceset.

Which face: in a video the longest face track (the person the clip is about), so frames with several faces
contribute only that person; in a photo the largest face. Which frames are dropped, and why:
  - blurred: Laplacian variance of the masked crop below BLUR_FRACTION x the set's median (motion blur
    teaches the decoder blur);
  - profile: nose tip outside the middle PROFILE_LIMIT of the cheek-to-cheek span (the 5-point alignment
    and the face-oval mask break down beyond ~60 degrees of yaw).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from dflab.errors import NoFace, NotFound, UsageError
from dflab.make.swap.faceset import FACESET_PADDING, write_faceset
from dflab.media.suffixes import PICTURE_SUFFIXES, VIDEO_SUFFIXES
from dflab.provenance.ledger.record import sha256_file

BLUR_FRACTION = 0.3
PROFILE_LIMIT = 0.22  # nose-tip position between the cheeks must lie in [0.22, 0.78]
CHEEK_LEFT, CHEEK_RIGHT = 234, 454
EXTRACT_SIZES = (64, 128, 256)


def yaw_ratio(landmarks: np.ndarray) -> float:
    """Where the nose tip sits between the two cheek points (0.5 = frontal, near 0 or 1 = profile)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    left, right, nose = pts[CHEEK_LEFT, :2], pts[CHEEK_RIGHT, :2], pts[1, :2]
    axis = right - left
    span = float(axis @ axis)
    return float((nose - left) @ axis / span) if span > 1e-9 else 0.5


def sharpness(crop: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop inside the mask (higher = sharper)."""
    import cv2  # noqa: PLC0415

    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    inside = mask > 0.5
    return float(lap[inside].var()) if inside.sum() > 16 else 0.0


def _inputs(path: Path) -> list[Path]:
    if not path.exists():
        raise NotFound(f"{path} does not exist")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES | VIDEO_SUFFIXES)
    if not files:
        raise UsageError(f"{path} holds no images or videos ({', '.join(sorted(PICTURE_SUFFIXES | VIDEO_SUFFIXES))})")
    return files


def _chosen_observations(media) -> list:
    """The observations of the one face we keep: longest track in a video, largest face in a photo."""
    from dflab.faces import analyse

    tracks = analyse(media, max_faces=4, embed_every_s=None)
    if not tracks:
        return []
    if media.media_type == "image":
        return [max((t.observations[0] for t in tracks), key=lambda o: (o.box[2] - o.box[0]) * (o.box[3] - o.box[1]))]
    return list(tracks[0].observations)


def extract_faceset(
    source: str | Path,
    out: str | Path,
    size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Build a faceset from a video, a photo, or a folder of them; returns a summary dict."""
    from dflab.faces import align, face_mask
    from dflab.faces.align import transform_points
    from dflab.media import load

    if size not in EXTRACT_SIZES:
        raise UsageError(f"crop size must be one of {', '.join(map(str, EXTRACT_SIZES))}, got {size}")
    out = Path(out)
    if out.exists():
        raise UsageError(f"output {out} already exists (choose another path)")
    if not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist")
    files = _inputs(Path(source))
    faces, masks, lms, frame_idx, src_idx, sharp = [], [], [], [], [], []
    sources, dropped = [], {"blurred": 0, "profile": 0, "no_face_frames": 0}
    for n, file in enumerate(files):
        media = load(file, require_video=True)
        observations = _chosen_observations(media)
        dropped["no_face_frames"] += len(media.frames) - len(observations)
        kept_here = 0
        for obs in observations:
            r = yaw_ratio(obs.landmarks)
            if not PROFILE_LIMIT <= r <= 1.0 - PROFILE_LIMIT:
                dropped["profile"] += 1
                continue
            frame = media.frames[obs.frame_pos]
            crop, matrix = align(frame.rgb, obs.landmarks, size, FACESET_PADDING)
            crop_lm = transform_points(obs.landmarks, matrix).astype(np.float32)
            mask = face_mask(crop_lm, (size, size))
            faces.append(crop)
            masks.append(mask)
            lms.append(crop_lm)
            frame_idx.append(frame.index)
            src_idx.append(n)
            sharp.append(sharpness(crop, mask))
            kept_here += 1
        sources.append({"path": str(file.resolve()), "sha256": sha256_file(file), "media_type": media.media_type,
                        "frames": len(media.frames), "faces": kept_here})
        if progress is not None:
            progress(n + 1, len(files))
    if sharp:
        threshold = BLUR_FRACTION * float(np.median(sharp))
        keep = [i for i, s in enumerate(sharp) if s >= threshold]
        dropped["blurred"] = len(sharp) - len(keep)
        faces, masks, lms = [faces[i] for i in keep], [masks[i] for i in keep], [lms[i] for i in keep]
        frame_idx, src_idx, sharp = [frame_idx[i] for i in keep], [src_idx[i] for i in keep], [sharp[i] for i in keep]
    if not faces:
        raise NoFace(f"no usable face found in {source}")
    info = {"size": size, "padding": FACESET_PADDING, "sources": sources, "dropped": dropped}
    write_faceset(out, faces, masks, lms, frame_idx, src_idx, sharp, info)
    return {"faceset": str(out), "faces": len(faces), "size": size, "sources": len(sources), "dropped": dropped}
