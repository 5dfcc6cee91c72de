"""Training the face-crop detector on this CPU: real crops vs pseudo-fakes made on the fly, plus ffpp fakes.

Each batch is half real crops and half fakes; a fake is a self-blended image of a real crop (SBI), a
face X-ray style blend of two real crops, or (when the data list has any) a crop of a real manipulated
clip. Reals and fakes then go through the same augmentation (mirror, JPEG re-compression, brightness),
so compression or resolution never tells the classes apart; only the blending traces do.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from dflab.detect.learned import sbi
from dflab.detect.learned.face_crop_data import CropSet, DataItem, load_crop_sets
from dflab.detect.learned.face_crop_model import (
    CROP_SIZE,
    FIRST_TRAINED_BLOCK,
    PADDING,
    build_model,
    freeze_early,
    save_weights,
    set_train_mode,
    to_tensor,
)
from dflab.errors import UsageError


@dataclass(frozen=True)
class TrainPreset:
    steps: int
    batch_size: int
    frames_per_clip: int
    lr: float = 1e-3
    weight_decay: float = 1e-4
    p_sbi: float = 0.55  # of the fakes: self-blended
    p_xray: float = 0.2  # of the fakes: blended from another real face; the rest are real fake crops
    max_items: int | None = None  # use only the first N data items (the tiny preset)
    repeat_batch: bool = False  # the tiny preset fits one fixed batch: its loss must fall (a wiring check)
    seed: int = 0


PRESETS: dict[str, TrainPreset] = {
    "tiny": TrainPreset(steps=5, batch_size=8, frames_per_clip=2, lr=1e-3, max_items=3, repeat_batch=True),  # tests
    "small": TrainPreset(steps=60, batch_size=16, frames_per_clip=8),
    "full": TrainPreset(steps=150, batch_size=16, frames_per_clip=16),
}


@dataclass
class TrainResult:
    weights: Path
    losses: list[float]
    n_real_crops: int
    n_fake_crops: int
    seconds: float
    meta: dict


def augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same for both classes: mirror, brightness/contrast, JPEG at a random quality, maybe downscale."""
    out = crop[:, ::-1] if rng.random() < 0.5 else crop
    if rng.random() < 0.3:
        out = np.clip((out.astype(np.float32) - 128) * rng.uniform(0.9, 1.1) + 128 + rng.uniform(-10, 10), 0, 255)
        out = out.astype(np.uint8)
    if rng.random() < 0.25:  # low-resolution faces (small in the frame, upscaled by alignment)
        h, w = out.shape[:2]
        f = rng.uniform(0.5, 0.85)
        out = cv2.resize(cv2.resize(out, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA), (w, h))
    if rng.random() < 0.6:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 96))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)


class BatchMaker:
    """Draws balanced batches from crop sets; every draw goes through the given Generator."""

    def __init__(self, sets: list[CropSet], preset: TrainPreset, rng: np.random.Generator):
        self.rng = rng
        self.preset = preset
        reals = [s for s in sets if s.item is None or s.item.label == 0]
        fakes = [s for s in sets if s.item is not None and s.item.label == 1]
        if not reals:
            raise UsageError("training needs at least one real face crop")
        self.real_crops = np.concatenate([s.crops for s in reals])
        self.real_points = np.concatenate([s.points for s in reals])
        # Weight files equally, not frames: a long clip must not drown the photos.
        self.real_weights = np.concatenate([np.full(len(s.crops), 1.0 / len(s.crops)) for s in reals])
        self.real_weights /= self.real_weights.sum()
        self.fake_crops = np.concatenate([s.crops for s in fakes]) if fakes else np.zeros((0,) + self.real_crops.shape[1:], np.uint8)

    def _real(self) -> tuple[np.ndarray, np.ndarray]:
        i = int(self.rng.choice(len(self.real_crops), p=self.real_weights))
        return self.real_crops[i], self.real_points[i]

    def fake(self) -> np.ndarray:
        u = self.rng.random()
        have_real_fakes = len(self.fake_crops) > 0
        p_sbi = self.preset.p_sbi if have_real_fakes else self.preset.p_sbi / (self.preset.p_sbi + self.preset.p_xray)
        if u < p_sbi:
            crop, points = self._real()
            return sbi.self_blend(crop, points, self.rng)[0]
        if u < p_sbi + self.preset.p_xray or not have_real_fakes:
            target, points = self._real()
            source, _ = self._real()
            return sbi.xray_blend(target, points, source, self.rng)[0]
        return self.fake_crops[int(self.rng.integers(len(self.fake_crops)))]

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.preset.batch_size
        n_fake = n // 2
        crops = [self._real()[0] for _ in range(n - n_fake)] + [self.fake() for _ in range(n_fake)]
        labels = np.array([0.0] * (n - n_fake) + [1.0] * n_fake, dtype=np.float32)
        return np.stack([augment(c, self.rng) for c in crops]), labels


def train_detector(
    items: list[DataItem],
    out: str | Path,
    preset: TrainPreset,
    progress: Callable[[str, int, int, float | None], None] | None = None,
    extra_meta: dict | None = None,
) -> TrainResult:
    """Train on the `train`-role items and write weights (+ meta) to `out`. Returns the loss history."""
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

    sets = load_crop_sets(used, preset.frames_per_clip, CROP_SIZE, PADDING, progress=on_item)
    maker = BatchMaker(sets, preset, rng)
    model = build_model(CROP_SIZE, pretrained=True)
    params = freeze_early(model, FIRST_TRAINED_BLOCK)
    optimiser = torch.optim.AdamW(params, lr=preset.lr, weight_decay=preset.weight_decay)
    warmup = max(1, preset.steps // 10)

    def lr_at(step: int) -> float:  # linear warm-up, then cosine decay to 5 %
        if step < warmup:
            return (step + 1) / warmup
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, preset.steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lr_at)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses: list[float] = []
    fixed = maker.batch() if preset.repeat_batch else None
    for step in range(preset.steps):
        set_train_mode(model, FIRST_TRAINED_BLOCK)
        crops, labels = fixed if fixed is not None else maker.batch()
        logits = model(to_tensor(crops))[:, 0]
        loss = loss_fn(logits, torch.from_numpy(labels))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        scheduler.step()
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
        "files": [{"path": str(s.item.path), "label": s.item.label, "method": s.item.method, "crops": len(s.crops)}
                  for s in sets if s.item is not None],
        "final_loss_mean_last10": round(float(np.mean(losses[-10:])), 4) if losses else None,
        **(extra_meta or {}),
    }
    path = save_weights(model, out, meta, FIRST_TRAINED_BLOCK)
    return TrainResult(path, losses, len(maker.real_crops), len(maker.fake_crops), seconds, meta)
