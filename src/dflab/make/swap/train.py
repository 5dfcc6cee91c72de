"""Training the swap autoencoder: augmentation, masked loss, LR schedule, checkpoints, resume, previews.

`iterations` is the *total* the run should reach, so `--resume` after an interruption with the same number
finishes the same schedule. A checkpoint is written every `save_every` iterations, at the end, and when the
run is interrupted (Ctrl-C), together with the optimiser state and the random generator, so a resumed run
continues exactly where it stopped. Imports only torch/numpy (and Pillow via the faceset reader) at module
level: the same loop trains on a GPU machine without the face stack.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from dflab.errors import UsageError
from dflab.make.swap.augment import AugmentConfig, augment_batch
from dflab.make.swap.checkpoint import CKPT_NAME, load_checkpoint, save_checkpoint
from dflab.make.swap.faceset import Faceset, read_faceset
from dflab.make.swap.losses import masked_loss
from dflab.make.swap.model import SwapModelConfig, build_swap_model

PREVIEW_ROWS = 4


@dataclass(frozen=True)
class TrainConfig:
    iterations: int = 1000
    batch: int = 16
    lr: float = 1e-4
    warmup: int = 100
    min_lr_fraction: float = 0.1
    save_every: int = 500
    preview_every: int = 250
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.batch < 1 or not self.lr > 0:
            raise UsageError("iterations and batch must be >= 1 and the learning rate > 0")


def learning_rate(iteration: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr_fraction x lr at cfg.iterations (flat after)."""
    warm = min(1.0, (iteration + 1) / max(cfg.warmup, 1))
    progress = min(1.0, iteration / max(cfg.iterations, 1))
    cosine = cfg.min_lr_fraction + (1.0 - cfg.min_lr_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return cfg.lr * warm * cosine


def faces_tensor(faceset: Faceset, size: int, device):
    """(uint8 faces (n, 3, s, s), float masks (n, 1, s, s)) on `device`, area-resized to the model size."""
    import torch
    import torch.nn.functional as F

    if faceset.size < size:
        raise UsageError(f"faceset {faceset.path} has {faceset.size} px crops; a {size} px model needs crops of at least {size} px")
    faces = torch.from_numpy(faceset.faces).permute(0, 3, 1, 2).float()
    masks = torch.from_numpy(faceset.masks)[:, None].float()
    if faceset.size != size:
        faces = F.interpolate(faces, size=(size, size), mode="area")
        masks = F.interpolate(masks, size=(size, size), mode="area")
    return faces.round().clamp(0, 255).to(torch.uint8).to(device), masks.to(device)


def preview_grid(model, faces_a, faces_b, rows: int = PREVIEW_ROWS) -> np.ndarray:
    """Rows of A, A->A, A->B, B, B->B, B->A (uint8 RGB) for fixed, evenly spaced faces of each set."""
    import torch

    def pick(faces):
        idx = torch.linspace(0, len(faces) - 1, min(rows, len(faces))).round().long()
        return faces[idx.to(faces.device)].float() / 255.0

    a, b = pick(faces_a), pick(faces_b)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        cols = [a, model(a, "a"), model(a, "b"), b, model(b, "b"), model(b, "a")]
    model.train(was_training)
    grid = torch.cat([torch.cat(list(c), dim=1) for c in cols], dim=2)  # (3, n*s, 6*s)
    return (grid.clamp(0, 1) * 255 + 0.5).byte().permute(1, 2, 0).cpu().numpy()


def _progress_bar(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="it", desc="train", file=sys.stderr,
                disable=not (enabled and sys.stderr.isatty()), dynamic_ncols=True)  # fmt: skip


def train_swap(
    faceset_a: str | Path,
    faceset_b: str | Path,
    out_dir: str | Path,
    model_config: SwapModelConfig | None = None,
    train_config: TrainConfig = TrainConfig(),
    resume: bool = False,
    device: str = "cpu",
    progress: bool = True,
    preview_writer: Callable[[np.ndarray, Path, dict], object] | None = None,
    max_seconds: float | None = None,
    keep_optimizer: bool = True,
    init_from: str | Path | None = None,
) -> dict:
    """Train (or resume) a swap model in `out_dir`; returns a summary with the loss history.

    init_from: start a new model from another model's weights (a "pretrained model": its shared encoder and
    decoders continue on the new pair); iteration count, optimiser and schedule start afresh.

    preview_writer(grid, path, model_info) writes each preview grid; the CLI passes the disclosing writer.
    max_seconds stops early (with a checkpoint) when a wall-clock budget runs out.
    """
    import torch

    out = Path(out_dir)
    ckpt_exists = (out / CKPT_NAME).is_file()
    if resume and not out.exists():
        raise UsageError(f"--resume: model {out} does not exist yet (train without --resume first)")
    if not resume and out.exists():
        raise UsageError(f"output {out} already exists (choose another path, or --resume to continue it)")
    if not resume and not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist")
    state = load_checkpoint(out) if resume else None
    if resume and not ckpt_exists:
        raise UsageError(f"--resume: {out} holds no checkpoint")
    if state is not None:
        model_config = SwapModelConfig(**state["config"])
    start_weights, init_info = None, (state or {}).get("init_from")
    if init_from is not None and state is None:
        start = load_checkpoint(init_from)
        start_config = SwapModelConfig(**start["config"])
        if model_config is not None and model_config != start_config:
            raise UsageError(f"--init-from: {init_from} has configuration {start_config.to_json()}, "
                             f"not {model_config.to_json()}")
        model_config, start_weights = start_config, start["model"]
        init_info = {"model": str(init_from), "iteration": int(start.get("iteration", 0)), "names": start.get("names")}
    model_config = model_config or SwapModelConfig()
    set_a, set_b = read_faceset(faceset_a), read_faceset(faceset_b)
    torch.manual_seed(train_config.seed)
    model = build_swap_model(model_config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_config.lr, betas=(0.5, 0.999))
    generator = torch.Generator().manual_seed(train_config.seed)
    iteration, history = 0, []
    if start_weights is not None:
        model.load_state_dict(start_weights)
    if state is not None:
        model.load_state_dict(state["model"])
        if state.get("optimizer"):
            optimizer.load_state_dict(state["optimizer"])
        if state.get("rng") is not None:
            generator.set_state(state["rng"])
        iteration, history = int(state["iteration"]), [list(h) for h in state.get("history", [])]
    faces_a, masks_a = faces_tensor(set_a, model_config.size, device)
    faces_b, masks_b = faces_tensor(set_b, model_config.size, device)
    names = {"a": set_a.name, "b": set_b.name}
    sources = {"a": set_a.info.get("sources", []), "b": set_b.info.get("sources", [])}
    out.mkdir(exist_ok=True)

    def snapshot() -> dict:
        return {
            "config": model_config.to_json(), "train": {**asdict(train_config), "augment": asdict(train_config.augment)},
            "iteration": iteration, "model": model.state_dict(),
            "optimizer": optimizer.state_dict() if keep_optimizer else None, "rng": generator.get_state(),
            "history": history, "names": names, "sources": sources,
            "faceset_sizes": {"a": len(set_a), "b": len(set_b)}, "padding": set_a.info.get("padding"),
            "init_from": init_info,
        }  # fmt: skip

    def preview() -> None:
        if preview_writer is not None:
            grid = preview_grid(model, faces_a, faces_b)
            preview_writer(grid, out / f"preview_{iteration:07d}.png", {"names": names, "sources": sources,
                                                                         "iteration": iteration, "size": model_config.size})

    def batch(faces, masks):
        idx = torch.randint(len(faces), (train_config.batch,), generator=generator).to(faces.device)
        return augment_batch(faces[idx].float() / 255.0, masks[idx], train_config.augment, generator)

    start_iter, started = iteration, time.perf_counter()
    bar = _progress_bar(train_config.iterations, iteration, progress)
    model.train()
    try:
        while iteration < train_config.iterations:
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                break
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(iteration, train_config)
            warped_a, target_a, mask_a = batch(faces_a, masks_a)
            warped_b, target_b, mask_b = batch(faces_b, masks_b)
            loss_a = masked_loss(model(warped_a, "a"), target_a, mask_a)
            loss_b = masked_loss(model(warped_b, "b"), target_b, mask_b)
            optimizer.zero_grad(set_to_none=True)
            (loss_a + loss_b).backward()
            optimizer.step()
            iteration += 1
            history.append([iteration, round(loss_a.item(), 5), round(loss_b.item(), 5)])
            bar.update(1)
            bar.set_postfix(loss_a=f"{history[-1][1]:.4f}", loss_b=f"{history[-1][2]:.4f}")
            if train_config.save_every and iteration % train_config.save_every == 0:
                save_checkpoint(out, snapshot())
            if train_config.preview_every and iteration % train_config.preview_every == 0:
                preview()
    except KeyboardInterrupt:
        save_checkpoint(out, snapshot())
        bar.close()
        raise
    bar.close()
    elapsed = time.perf_counter() - started
    save_checkpoint(out, snapshot())
    if train_config.preview_every and (not history or iteration % train_config.preview_every != 0) and iteration > start_iter:
        preview()
    done = iteration - start_iter
    return {
        "model": str(out), "iteration": iteration, "trained_now": done, "seconds": round(elapsed, 2),
        "it_per_s": round(done / elapsed, 3) if elapsed > 0 else None, "size": model_config.size,
        "loss_a": history[-1][1] if history else None, "loss_b": history[-1][2] if history else None,
        "history": history, "names": names, "faces": {"a": len(set_a), "b": len(set_b)}, "init_from": init_info,
    }  # fmt: skip
