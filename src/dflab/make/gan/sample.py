"""`dflab gan sample`: faces of people who do not exist, from a trained GAN, each one disclosed.

The generator draws 64x64 faces; each is upscaled (bicubic) to SAMPLE_SIDE before disclosure because the
robust watermark needs at least 112 px on the short side. The output folder is created by this command and
must not exist beforehand (no file is ever silently replaced).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dflab.errors import UsageError

SAMPLE_SIDE = 256
MAX_SAMPLES = 1000


def load_generator(model_dir: str | Path):
    from dflab.errors import IntegrityError
    from dflab.make.gan.model import GanConfig, build_gan
    from dflab.make.gan.train import GAN_FORMAT
    from dflab.make.swap.checkpoint import load_checkpoint

    state = load_checkpoint(model_dir, fmt=GAN_FORMAT)
    try:
        gen, _ = build_gan(GanConfig(**state["config"]))
        gen.load_state_dict(state["generator"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise IntegrityError(f"GAN {model_dir} does not match its configuration ({type(exc).__name__})") from None
    return gen.eval(), state


def generate(gen, n: int, seed: int = 0) -> np.ndarray:
    """(n, 64, 64, 3) uint8 RGB faces from noise drawn with `seed`."""
    import torch

    z = torch.randn(n, gen.latent, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        images = gen(z)
    return ((images.clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(0, 2, 3, 1).numpy()


def upscale(rgb: np.ndarray, side: int = SAMPLE_SIDE) -> np.ndarray:
    import cv2  # noqa: PLC0415

    return np.clip(cv2.resize(rgb, (side, side), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def sample(model_dir: str | Path, n: int, out_dir: str | Path, seed: int = 0) -> dict:
    """Write n disclosed PNG faces into the new folder out_dir; returns a summary with the ledger records."""
    from dflab.make import disclose

    out = Path(out_dir)
    if not 1 <= n <= MAX_SAMPLES:
        raise UsageError(f"-n must be between 1 and {MAX_SAMPLES}, got {n}")
    if out.exists():
        raise UsageError(f"output {out} already exists (choose another path)")
    if not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist")
    gen, state = load_generator(model_dir)
    faces = generate(gen, n, seed)
    out.mkdir()
    records = []
    for i, face in enumerate(faces):
        result = disclose.disclose_image(
            upscale(face), out / f"face_{i:04d}.png", model=Path(model_dir).name, method="dcgan",
            extra={"seed": seed, "index": i, "iteration": int(state.get("iteration", 0)), "native_size": 64},
        )  # fmt: skip
        records.append(result["record"])
    return {"output": str(out), "samples": n, "records": records, "iteration": int(state.get("iteration", 0))}
