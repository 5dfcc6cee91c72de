"""Training data for the face-crop detector: which files, and their aligned face crops (cached).

The default data list (face_crop_data.json beside this module) names files under the shared development data
(../shared/data or $DFLAB_SHARED_DATA) with a label, a method and a *group*: files of one group are the
same footage (an ffpp original and the fakes made from it), so leave-one-method-out holds the whole
group out, never just the fake. A manifest CSV (path,label[,method,group]) can replace the list.

Crops are aligned with dflab.faces.align (CROP_SIZE, PADDING) from frames sampled over the whole clip,
and cached as .npz under $DFLAB_HOME/cache/face_crops (never in the repository: they show real people).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from dflab.atomic import atomic_output
from dflab.config import dflab_home
from dflab.errors import NotFound, UsageError

MIN_FACE_PX = 64  # faces smaller than this in the frame would be upsampled blur, not evidence
CACHE_VERSION = 1


@dataclass(frozen=True)
class DataItem:
    path: Path
    label: int  # 1 = fake
    method: str  # "real" sources carry their dataset name; ffpp fakes their manipulation method
    group: str  # same footage = same group
    role: str = "train"  # "train" or "heldout" (never trained on; kept for honest evaluation)
    split: str = ""  # what a held-out item is kept for (face_crop_data.json's "split"), "" when not said


@dataclass
class CropSet:
    crops: np.ndarray  # (N, S, S, 3) uint8 aligned RGB
    points: np.ndarray  # (N, 478, 2) float32 landmarks in crop pixels
    times: np.ndarray  # (N,) seconds (0 for images)
    item: DataItem | None = None
    extra: dict = field(default_factory=dict)


def shared_data_root(explicit: str | Path | None = None) -> Path:
    """Where the development data lives: an explicit path, $DFLAB_SHARED_DATA, or ../shared/data."""
    root = Path(explicit or os.environ.get("DFLAB_SHARED_DATA") or Path.cwd().parent / "shared" / "data")
    if not root.is_dir():
        raise NotFound(f"development data folder {root} not found (pass --data-root or set DFLAB_SHARED_DATA)")
    return root.resolve()


def default_data_list(root: Path) -> list[DataItem]:
    """The shipped data list, resolved against `root`: the listed files, then faces/labels.csv by its rule."""
    spec = json.loads(resources.files("dflab.train").joinpath("face_crop_data.json").read_text())
    items = [
        DataItem(root / e["path"], 1 if e["label"] == "fake" else 0, e["method"], e["group"], e.get("role", "train"),
                 e.get("set", ""))
        for e in spec["items"]
    ]
    if "faces" in spec:
        items += faces_data_list(root, spec["faces"])
    missing = [str(i.path) for i in items if not i.path.is_file()]
    if missing:
        raise NotFound(f"{len(missing)} listed training files are missing, e.g. {missing[0]}")
    return items


def heldout_by_group(group: str, modulus: int) -> bool:
    """The fixed identity split: a group is held out when the first byte of its sha1 is 0 mod `modulus`."""
    return hashlib.sha1(group.encode()).digest()[0] % modulus == 0


def faces_data_list(root: Path, rule: dict) -> list[DataItem]:
    """faces/labels.csv rows of the rule's folders: train folders split by identity (a fifth held out), eval
    folders all held out. Group = the named person where labels.csv gives one, else the file itself."""
    import csv

    labels = root / rule["labels"]
    if not labels.is_file():
        raise NotFound(f"{labels} not found (the faces/ set of the shared development data)")
    base = labels.parent
    train_folders, eval_folders = set(rule["train_folders"]), set(rule["eval_folders"])
    items = []
    with labels.open(newline="") as handle:
        for row in csv.DictReader(handle):
            folder = row["path"].split("/", 1)[0]
            if folder not in train_folders | eval_folders:
                continue
            identity = (row.get("identity") or "").strip()
            group = f"{folder}/{identity}" if identity else row["path"]
            label = 1 if row["label"] == "fake" else 0
            if folder in eval_folders:
                role, split = "heldout", "eval_faces"
            elif heldout_by_group(group, int(rule["heldout_modulus"])):
                role, split = "heldout", "eval_faces"
            else:
                role, split = "train", "train"
            if label == 1 and role == "train":  # the SBI recipe trains on real faces only
                role, split = "heldout", "eval_faces"
            items.append(DataItem(base / row["path"], label, folder, group, role, split))
    return items


def manifest_data_list(paths: list[str | Path]) -> list[DataItem]:
    """Data items from manifest CSVs (path,label[,method,group,role])."""
    from dflab.eval.manifest import read_manifest

    items = []
    for path in paths:
        for row in read_manifest(path).rows:
            if not row.file.is_file():
                raise NotFound(f"{path} line {row.line}: {row.file} does not exist")
            role = row.extra.get("role", "train") or "train"
            if role not in ("train", "heldout"):
                raise UsageError(f"{path} line {row.line}: role must be train or heldout, not {role!r}")
            items.append(DataItem(row.file, row.label, row.method or row.label_name,
                                  row.extra.get("group") or str(row.file), role))
    if not items:
        raise UsageError("the training manifest lists no files")
    return items


def leave_out(items: list[DataItem], method: str) -> tuple[list[DataItem], list[DataItem]]:
    """(kept, held out): every item of `method` and every item sharing a group with one of them."""
    groups = {i.group for i in items if i.method == method}
    if not groups:
        raise UsageError(f"no training item has method {method!r}")
    held = [i for i in items if i.group in groups]
    return [i for i in items if i.group not in groups], held


def _cache_path(path: Path, frames: int, size: int, padding: float, rate_fps: float | None = None) -> Path:
    stat = path.stat()
    key = f"{CACHE_VERSION}|{path.resolve()}|{stat.st_size}|{int(stat.st_mtime)}|{frames}|{size}|{padding}"
    if rate_fps is not None:  # (the old key stays valid for frame-count sampling)
        key += f"|fps={rate_fps}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:20]
    return dflab_home() / "cache" / "face_crops" / f"{digest}.npz"


def sample_times(duration_s: float, frames: int) -> float:
    """The sampling rate (fps) that spreads about `frames` analysed frames over a clip."""
    return max(0.05, frames / max(duration_s, 1e-3))


def extract_crops(path: Path, frames: int = 12, size: int = 160, padding: float = 0.25, max_faces: int = 4,
                  rate_fps: float | None = None) -> CropSet:
    """Aligned crops of the faces in a file: every large enough face of an image, the main face of a
    video at about `frames` instants spread over the clip (or, with `rate_fps`, at that rate over the
    whole clip, so long clips give more crops). Cached per (file, settings)."""
    cache = _cache_path(path, frames, size, padding, rate_fps)
    if cache.is_file():
        with np.load(cache) as data:
            return CropSet(data["crops"], data["points"], data["times"])
    from dflab.config import SamplingPolicy
    from dflab.faces import align, analyse
    from dflab.faces.align import transform_points
    from dflab.media import load, probe

    info = probe(path)
    duration = float(info.get("duration") or 0.0)
    fps = rate_fps if rate_fps is not None else sample_times(duration, frames)
    policy = SamplingPolicy(all_frames_up_to_s=0.0, rate_fps=fps)
    media = load(path, policy=policy, with_audio=False)
    tracks = analyse(media, max_faces=max_faces if media.media_type == "image" else 1, embed_every_s=None)
    # Video frames are sampled far apart, so one face may be cut into several tracks (the tracker's gap
    # limit); with max_faces=1 every observation is the clip's main face, whichever track holds it.
    observations = sorted((o for t in tracks for o in t.observations), key=lambda o: o.frame_pos)
    crops, points, times = [], [], []
    for obs in observations:
        if obs.box[2] - obs.box[0] < MIN_FACE_PX:
            continue
        crop, matrix = align(media.frames[obs.frame_pos].rgb, obs.landmarks, size, padding)
        crops.append(crop)
        points.append(transform_points(obs.landmarks, matrix).astype(np.float32))
        times.append(obs.time_s)
    result = CropSet(
        np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8),
        np.stack(points) if points else np.zeros((0, 478, 2), np.float32),
        np.asarray(times, dtype=np.float64),
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(cache) as tmp:  # the temporary name keeps .npz, so savez adds nothing to it
        np.savez(tmp, crops=result.crops, points=result.points, times=result.times)
    return result


def load_crop_sets(items: list[DataItem], frames: int, size: int, padding: float, progress=None,
                   rate_fps: float | None = None) -> list[CropSet]:
    """Crops of every item (items with no usable face are dropped)."""
    sets = []
    for n, item in enumerate(items):
        crop_set = extract_crops(item.path, frames, size, padding, rate_fps=rate_fps)
        crop_set.item = item
        if len(crop_set.crops):
            sets.append(crop_set)
        if progress is not None:
            progress(n + 1, len(items), item.path.name)
    return sets
