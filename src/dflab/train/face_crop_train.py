"""Training the face-crop detector on this CPU, the Self-Blended Images way: real faces only.

Each batch is pairs: a real aligned crop and a pseudo-fake made from it - usually a self-blended image
(sbi.self_blend_pair: the paper's source-target augmentation, affine shift, landmark-hull mask variants,
elastic deformation, blur, random blend ratio), sometimes a face X-ray style blend of another real face.
Both halves of a pair then go through the *same* augmentation draw (mirror, colour, a small zoom/shift,
downscale, JPEG quality 40-100), so compression, resolution or colour never tell the classes apart; only
the blending traces do. No deepfake is needed (listed fake clips are used only if a preset asks for them),
which is what lets the model generalise to manipulation methods it never saw.

The stem and blocks 0-4 keep their ImageNet weights; blocks 5-15, the head convolution and the classifier
are fine-tuned with AdamW under a warm-up + cosine schedule, which can be tied to a wall-clock budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from dflab.detect.learned.face_crop_model import (
    CROP_SIZE,
    FIRST_TRAINED_BLOCK,
    PADDING,
    build_model,
    save_weights,
    to_tensor,
    trained_prefixes,
)
from dflab.errors import UsageError
from dflab.train import sbi
from dflab.train.face_crop_data import CropSet, DataItem, load_crop_sets

FULL_STEPS = 3000  # set from a timed run: see the model card (train_seconds)


@dataclass(frozen=True)
class TrainPreset:
    steps: int
    batch_size: int  # crops per step: half real, half fake (each fake made from one of the reals)
    frames_per_clip: int  # analysed frames per clip when clip_fps is None
    clip_fps: float | None = None  # sample clips at this rate instead (every clip contributes ~fps x seconds)
    lr: float = 1e-3
    weight_decay: float = 1e-4
    first_block: int = FIRST_TRAINED_BLOCK
    p_xray: float = 0.0  # of the pseudo-fakes: blended from another real face; the rest are SBI
    p_real_fake: float = 0.0  # of the fakes: a crop of a listed fake clip (0: real faces only, the SBI recipe)
    max_items: int | None = None  # use only the first N data items (the tiny preset)
    repeat_batch: bool = False  # the tiny preset fits one fixed batch: its loss must fall (a wiring check)
    seed: int = 0
    max_seconds: float | None = None  # a wall-clock budget for the training loop (a shared, busy CPU)
    # Held-out splits of the data list trained on as well (their real files; `mix`: the shipped model's own
    # sources back beside the faces/ pictures). Applied by `trained_items`.
    train_splits: tuple[str, ...] = ()
    balance_splits: bool = False  # each split (pool) draws an equal share of the pairs, not one by its size
    p_h264: float = 0.0  # of the pairs: H.264 encoded and decoded (CRF 23-35) instead of JPEG, both halves alike


PRESETS: dict[str, TrainPreset] = {
    "tiny": TrainPreset(steps=5, batch_size=8, frames_per_clip=2, lr=1e-3, max_items=3, repeat_batch=True),  # tests
    "small": TrainPreset(steps=200, batch_size=16, frames_per_clip=8, lr=5e-4, p_xray=0.1),
    # The shipped model: ~3 crops/s of every clip, SBI pairs, blocks 5-15 + head, ~40 min on 2 threads.
    "full": TrainPreset(steps=FULL_STEPS, batch_size=32, frames_per_clip=16, clip_fps=3.0, lr=5e-4, p_xray=0.1),
    # The same recipe sized for the faces/ pictures (thousands of people, one crop each): the step budget of
    # `full`, a 35-minute wall-clock budget on 2 threads (--max-minutes decides where the cosine ends).
    "faces": TrainPreset(steps=FULL_STEPS, batch_size=32, frames_per_clip=16, clip_fps=3.0, lr=5e-4, p_xray=0.1,
                         max_seconds=35 * 60.0),
    # faces/ pictures plus the shipped model's own data (the `devset` split: LivePortrait driving clips at
    # 3 fps, portraits, face_recognition, dlib_faces), half the pairs from each so 615 video-era crops are not
    # drowned by 2,300 pictures; 30 % of the pairs go through H.264 as compressed footage does. Meant for a
    # warm start at a low learning rate (--init-from the shipped weights, --lr 1e-4).
    "mix": TrainPreset(steps=FULL_STEPS, batch_size=32, frames_per_clip=16, clip_fps=3.0, lr=1e-4, p_xray=0.1,
                       train_splits=("devset",), balance_splits=True, p_h264=0.3),
}


def trained_items(items: list[DataItem], preset: TrainPreset) -> list[DataItem]:
    """The data list with the real files of the preset's `train_splits` moved from held out to training."""
    import dataclasses

    splits = set(preset.train_splits)
    return [dataclasses.replace(i, role="train") if i.split in splits and i.label == 0 else i for i in items]


@dataclass
class TrainResult:
    weights: Path
    losses: list[float]
    n_real_crops: int
    n_fake_crops: int
    seconds: float
    meta: dict


def freeze_early(model, first_block: int = FIRST_TRAINED_BLOCK) -> list:
    """Freeze the stem and blocks before `first_block`; returns the trainable parameters."""
    prefixes = trained_prefixes(first_block, len(model._blocks))
    trainable = []
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith(prefixes)
        if param.requires_grad:
            trainable.append(param)
    return trainable


def set_train_mode(model, first_block: int = FIRST_TRAINED_BLOCK) -> None:
    """Train mode for the trained part only: frozen batch norms keep their ImageNet statistics."""
    model.eval()
    for i in range(first_block, len(model._blocks)):
        model._blocks[i].train()
    model._conv_head.train()
    model._bn1.train()
    model._dropout.train()


def lr_factor(done: float, warmup: float = 0.05, floor: float = 0.02) -> float:
    """Learning-rate multiplier at a fraction `done` of training: linear warm-up, then cosine to `floor`."""
    if done < warmup:
        return max(done / warmup, 0.05)
    t = min(1.0, (done - warmup) / (1.0 - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def sample_augmentation(rng: np.random.Generator, p_h264: float = 0.0) -> dict:
    """One draw of the final augmentation; applied identically to a real crop and its pseudo-fake (as the
    SBI code does), so no augmentation - above all no compression level - tells the two apart.
    (The H.264 draw is made only when asked, so presets without it keep their random stream.)"""
    h264 = None
    if p_h264 > 0 and rng.random() < p_h264:
        h264 = int(rng.integers(23, 36))
    return {
        "h264": h264,
        "flip": rng.random() < 0.5,
        "rgb_shift": rng.uniform(-20, 20, 3) if rng.random() < 0.3 else None,
        "hue_sat": (rng.uniform(-4, 4), rng.uniform(0.85, 1.15)) if rng.random() < 0.3 else None,
        "contrast_brightness": (rng.uniform(0.9, 1.1), rng.uniform(-25, 25)) if rng.random() < 0.3 else None,
        "zoom": (rng.uniform(0.92, 1.0), *rng.uniform(-0.03, 0.03, 2)) if rng.random() < 0.5 else None,
        "downscale": rng.uniform(0.4, 0.85) if rng.random() < 0.25 else None,
        "jpeg": int(rng.integers(40, 101)) if rng.random() < 0.5 else None,
    }


def apply_augmentation(crop: np.ndarray, aug: dict) -> np.ndarray:
    """Mirror, colour, a small zoom/shift (alignment jitter), low resolution, JPEG: in that order."""
    out = crop[:, ::-1] if aug["flip"] else crop
    h, w = out.shape[:2]
    if aug["rgb_shift"] is not None or aug["hue_sat"] is not None or aug["contrast_brightness"] is not None:
        img = out.astype(np.float32)
        if aug["rgb_shift"] is not None:
            img = np.clip(img + aug["rgb_shift"].astype(np.float32), 0, 255)
        if aug["hue_sat"] is not None:
            hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
            hsv[..., 0] = (hsv[..., 0] + aug["hue_sat"][0]) % 180
            hsv[..., 1] *= aug["hue_sat"][1]
            img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
        if aug["contrast_brightness"] is not None:
            c, b = aug["contrast_brightness"]
            img = (img - 128.0) * c + 128.0 + b
        out = np.clip(img, 0, 255).astype(np.uint8)
    if aug["zoom"] is not None:
        scale, tx, ty = aug["zoom"]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, 1.0 / scale)
        matrix[:, 2] += (tx * w, ty * h)
        out = cv2.warpAffine(out, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    if aug["downscale"] is not None:  # low-resolution faces (small in the frame, upscaled by alignment)
        f = aug["downscale"]
        out = cv2.resize(cv2.resize(out, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA), (w, h))
    if aug.get("h264") is not None:  # compressed footage: 4:2:0 chroma, block transform, deblocking
        return h264_roundtrip(out, aug["h264"])
    if aug["jpeg"] is not None:
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(out[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, aug["jpeg"]])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)


def h264_roundtrip(crop: np.ndarray, crf: int) -> np.ndarray:
    """`crop` encoded as one H.264 frame at `crf` (libx264 through PyAV) and decoded again."""
    import io

    import av

    h, w = crop.shape[:2]
    buf = io.BytesIO()
    with av.open(buf, "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        stream.thread_count = 1
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(crop), format="rgb24")):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf, "r", format="h264") as decoded:
        for frame in decoded.decode(video=0):
            return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
    return crop


def augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One crop with its own augmentation draw."""
    return apply_augmentation(crop, sample_augmentation(rng))


class BatchMaker:
    """Draws balanced batches of (real, pseudo-fake) pairs from crop sets through one numpy Generator."""

    def __init__(self, sets: list[CropSet], preset: TrainPreset, rng: np.random.Generator):
        self.rng = rng
        self.preset = preset
        reals = [s for s in sets if s.item is None or s.item.label == 0]
        fakes = [s for s in sets if s.item is not None and s.item.label == 1]
        if not reals:
            raise UsageError("training needs at least one real face crop")
        self.real_crops = np.concatenate([s.crops for s in reals])
        self.real_points = np.concatenate([s.points for s in reals])
        # A file weighs sqrt(its crops): a 40 s clip (120 crops) counts more than one photo, as it holds
        # more poses and lighting, but not 120 times more (its frames are near duplicates).
        self.real_weights = np.concatenate([np.full(len(s.crops), 1.0 / np.sqrt(len(s.crops))) for s in reals])
        if preset.balance_splits:  # every split (pool) gets the same share, files within it as above
            pools = np.concatenate([np.full(len(s.crops), s.item.split if s.item is not None else "") for s in reals])
            for pool in set(pools):
                self.real_weights[pools == pool] /= self.real_weights[pools == pool].sum()
        self.real_weights /= self.real_weights.sum()
        self.fake_crops = np.concatenate([s.crops for s in fakes]) if fakes else np.zeros((0,) + self.real_crops.shape[1:], np.uint8)

    def _real_index(self) -> int:
        return int(self.rng.choice(len(self.real_crops), p=self.real_weights))

    def pair(self) -> tuple[np.ndarray, np.ndarray]:
        """(real, fake): usually an SBI of the real (or of its source-transformed copy), sometimes an X-ray
        blend of another real face into it, or - only if the preset asks - a crop of a listed fake clip."""
        i = self._real_index()
        crop, points = self.real_crops[i], self.real_points[i]
        u = self.rng.random()
        if len(self.fake_crops) and u < self.preset.p_real_fake:
            return crop, self.fake_crops[int(self.rng.integers(len(self.fake_crops)))]
        if u < self.preset.p_real_fake + self.preset.p_xray:
            return crop, sbi.xray_blend(crop, points, self.real_crops[self._real_index()], self.rng)[0]
        real, fake, _ = sbi.self_blend_pair(crop, points, self.rng)
        return real, fake

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        n_pairs = max(1, self.preset.batch_size // 2)
        crops, labels = [], []
        for _ in range(n_pairs):
            real, fake = self.pair()
            aug = sample_augmentation(self.rng, self.preset.p_h264)
            crops += [apply_augmentation(real, aug), apply_augmentation(fake, aug)]
            labels += [0.0, 1.0]
        return np.stack(crops), np.array(labels, dtype=np.float32)


def _shown_path(path: Path, root: Path | None) -> str:
    """A data file as the model card names it: relative to the shared data folder when under it."""
    if root is not None:
        try:
            return path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def train_detector(
    items: list[DataItem],
    out: str | Path,
    preset: TrainPreset,
    progress: Callable[[str, int, int, float | None], None] | None = None,
    extra_meta: dict | None = None,
    data_root: Path | None = None,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train on the `train`-role items and write weights (+ meta) to `out`. Returns the loss history.
    `init_from`: start from a face-crop weights file instead of the ImageNet head (a warm start)."""
    import torch

    started = time.perf_counter()
    torch.manual_seed(preset.seed)
    rng = np.random.default_rng(preset.seed)
    used = [i for i in items if i.role == "train"][: preset.max_items]
    if not any(i.label == 0 for i in used):
        raise UsageError("the data list has no real file to train on")

    def on_item(done: int, total: int, name: str) -> None:
        if progress:
            progress("crops", done, total, None)

    sets = load_crop_sets(used, preset.frames_per_clip, CROP_SIZE, PADDING, progress=on_item, rate_fps=preset.clip_fps)
    maker = BatchMaker(sets, preset, rng)
    if init_from is not None:
        from dflab.detect.learned.face_crop_model import load_model

        model, _ = load_model(init_from)
    else:
        model = build_model(CROP_SIZE, pretrained=True)
    params = freeze_early(model, preset.first_block)
    optimiser = torch.optim.AdamW(params, lr=preset.lr, weight_decay=preset.weight_decay)
    loop_started = time.perf_counter()

    def fraction_done(step: int) -> float:
        """How far through the schedule: by steps, or by the time budget when that runs out first (the
        cosine then still decays to its floor instead of stopping at a high learning rate)."""
        by_steps = step / preset.steps
        if preset.max_seconds is None:
            return by_steps
        return max(by_steps, (time.perf_counter() - loop_started) / preset.max_seconds)

    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses: list[float] = []
    fixed = maker.batch() if preset.repeat_batch else None
    for step in range(preset.steps):
        done = fraction_done(step)
        if done >= 1.0:
            break
        for group in optimiser.param_groups:
            group["lr"] = preset.lr * lr_factor(done)
        set_train_mode(model, preset.first_block)
        crops, labels = fixed if fixed is not None else maker.batch()
        logits = model(to_tensor(crops))[:, 0]
        loss = loss_fn(logits, torch.from_numpy(labels))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        if progress:
            progress("train", step + 1, preset.steps, losses[-1])
    model.eval()
    seconds = time.perf_counter() - started
    meta = {
        "crop_size": CROP_SIZE,
        "padding": PADDING,
        "preset": asdict(preset),
        "train_seconds": round(seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "files": [{"path": _shown_path(s.item.path, data_root), "label": s.item.label, "method": s.item.method,
                   "crops": len(s.crops)} for s in sets if s.item is not None],
        "init_from": Path(init_from).name if init_from is not None else "imagenet",
        "steps_run": len(losses),
        "stopped_by_time_budget": len(losses) < preset.steps,
        "final_loss_mean_last10": round(float(np.mean(losses[-10:])), 4) if losses else None,
        **(extra_meta or {}),
    }
    path = save_weights(model, out, meta, preset.first_block)
    return TrainResult(path, losses, len(maker.real_crops), len(maker.fake_crops), seconds, meta)
