"""Training the face GAN: alternating discriminator and generator steps (non-saturating loss, Adam 2e-4,
beta1 0.5 as in DCGAN), one-sided label smoothing (real = 0.9) against an over-confident discriminator,
sample grids from a fixed noise batch during training, checkpoints and resume as for the swap model.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dflab.errors import UsageError
from dflab.make.gan.model import GAN_SIZE, GanConfig, build_gan
from dflab.make.swap.checkpoint import CKPT_NAME, load_checkpoint, save_checkpoint
from dflab.make.swap.faceset import read_faceset

GAN_FORMAT = "dflab-gan-v1"
GRID_SIDE = 4  # sample grids are GRID_SIDE x GRID_SIDE faces


@dataclass(frozen=True)
class GanTrainConfig:
    iterations: int = 2000
    batch: int = 64
    lr: float = 2e-4
    real_label: float = 0.9
    save_every: int = 500
    sample_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.batch < 2 or not self.lr > 0:
            raise UsageError("iterations must be >= 1, batch >= 2 and the learning rate > 0")


def load_faces(paths: list[str | Path], device):
    """All faces of one or more facesets as a float tensor in [-1, 1], (n, 3, 64, 64), with horizontal flips."""
    import torch
    import torch.nn.functional as F

    chunks = []
    for path in paths:
        fs = read_faceset(path)
        faces = torch.from_numpy(fs.faces).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        if fs.size != GAN_SIZE:
            faces = F.interpolate(faces, size=(GAN_SIZE, GAN_SIZE), mode="area")
        chunks += [faces, faces.flip(3)]
    return torch.cat(chunks).to(device)


def sample_grid(images) -> np.ndarray:
    """A square uint8 RGB grid of generated images in [-1, 1] (n, 3, s, s), n = side^2."""
    import torch

    side = int(np.sqrt(len(images)))
    imgs = ((images[: side * side].detach().clamp(-1, 1) + 1) * 127.5 + 0.5).byte().cpu()
    rows = [torch.cat(list(imgs[r * side : (r + 1) * side]), dim=2) for r in range(side)]
    return torch.cat(rows, dim=1).permute(1, 2, 0).numpy()


def train_gan(
    faces: list[str | Path],
    out_dir: str | Path,
    model_config: GanConfig = GanConfig(),
    train_config: GanTrainConfig = GanTrainConfig(),
    resume: bool = False,
    device: str = "cpu",
    progress: bool = True,
    sample_writer: Callable[[np.ndarray, Path, dict], object] | None = None,
    max_seconds: float | None = None,
) -> dict:
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    out = Path(out_dir)
    if resume and not (out / CKPT_NAME).is_file():
        raise UsageError(f"--resume: {out} holds no GAN checkpoint")
    if not resume and out.exists():
        raise UsageError(f"output {out} already exists (choose another path, or --resume to continue it)")
    if not resume and not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist")
    state = load_checkpoint(out, fmt=GAN_FORMAT) if resume else None
    if state is not None:
        model_config = GanConfig(**state["config"])
    real = load_faces(list(faces), device)
    torch.manual_seed(train_config.seed)
    gen, disc = build_gan(model_config)
    gen, disc = gen.to(device), disc.to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=train_config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=train_config.lr, betas=(0.5, 0.999))
    generator = torch.Generator().manual_seed(train_config.seed)
    fixed_z = torch.randn(GRID_SIDE**2, model_config.latent, generator=torch.Generator().manual_seed(1234))
    iteration, history = 0, []
    if state is not None:
        gen.load_state_dict(state["generator"])
        disc.load_state_dict(state["discriminator"])
        if state.get("opt_g"):
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
        generator.set_state(state["rng"])
        iteration, history = int(state["iteration"]), [list(h) for h in state.get("history", [])]
    out.mkdir(exist_ok=True)
    sources = [str(Path(p)) for p in faces]

    def snapshot(keep_opt: bool = True) -> dict:
        return {"config": model_config.to_json(), "train": asdict(train_config), "iteration": iteration,
                "generator": gen.state_dict(), "discriminator": disc.state_dict(),
                "opt_g": opt_g.state_dict() if keep_opt else None, "opt_d": opt_d.state_dict() if keep_opt else None,
                "rng": generator.get_state(), "history": history, "sources": sources, "n_faces": len(real)}  # fmt: skip

    def write_samples() -> None:
        if sample_writer is None:
            return
        gen.eval()
        with torch.no_grad():
            grid = sample_grid(gen(fixed_z.to(device)))
        gen.train()
        sample_writer(grid, out / f"samples_{iteration:07d}.png", {"iteration": iteration, "sources": sources})

    bar = tqdm(total=train_config.iterations, initial=iteration, unit="it", desc="gan", file=sys.stderr,
               disable=not (progress and sys.stderr.isatty()), dynamic_ncols=True)  # fmt: skip
    start_iter, started = iteration, time.perf_counter()
    n = len(real)
    try:
        while iteration < train_config.iterations:
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                break
            idx = torch.randint(n, (train_config.batch,), generator=generator).to(device)
            z = torch.randn(train_config.batch, model_config.latent, generator=generator).to(device)
            fake = gen(z)
            d_real, d_fake = disc(real[idx]), disc(fake.detach())
            loss_d = F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, train_config.real_label)) + \
                F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            d_out = disc(fake)
            loss_g = F.binary_cross_entropy_with_logits(d_out, torch.ones_like(d_out))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            iteration += 1
            history.append([iteration, round(loss_d.item(), 5), round(loss_g.item(), 5)])
            bar.update(1)
            bar.set_postfix(loss_d=f"{history[-1][1]:.3f}", loss_g=f"{history[-1][2]:.3f}")
            if train_config.save_every and iteration % train_config.save_every == 0:
                save_checkpoint(out, snapshot(), fmt=GAN_FORMAT)
            if train_config.sample_every and iteration % train_config.sample_every == 0:
                write_samples()
    except KeyboardInterrupt:
        save_checkpoint(out, snapshot(), fmt=GAN_FORMAT)
        bar.close()
        raise
    bar.close()
    elapsed = time.perf_counter() - started
    save_checkpoint(out, snapshot(), fmt=GAN_FORMAT)
    if iteration > start_iter and (not train_config.sample_every or iteration % train_config.sample_every):
        write_samples()
    done = iteration - start_iter
    return {"model": str(out), "iteration": iteration, "trained_now": done, "seconds": round(elapsed, 2),
            "it_per_s": round(done / elapsed, 3) if elapsed > 0 else None, "faces": n, "history": history}  # fmt: skip
