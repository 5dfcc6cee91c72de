"""Headless training for a machine without the face stack (a rented GPU): `python -m dflab.make.headless`.

Trains the swap model and/or the GAN from facesets made here with `dflab swap extract`, within a wall-clock
budget, then writes *weights-only, float16* checkpoints split into parts of at most PART_BYTES (so they fit
a transfer limit). `join_parts` puts them back together here. Nothing generated leaves this module: the
previews are made later, from the checkpoint, through make/disclose (training runs with previews off).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dflab.make.swap.checkpoint import CKPT_NAME, META_NAME, load_checkpoint, save_checkpoint

PART_BYTES = 15 * 1024 * 1024


def _half(obj):
    import torch

    if isinstance(obj, torch.Tensor) and obj.is_floating_point():
        return obj.half()
    if isinstance(obj, dict):
        return {k: _half(v) for k, v in obj.items()}
    return obj


def slim_and_split(model_dir: Path, fmt: str, weight_keys: tuple[str, ...]) -> list[Path]:
    """Rewrite a checkpoint without optimiser state, weights in float16, then split it into parts."""
    state = load_checkpoint(model_dir, fmt=fmt)
    for key in ("optimizer", "opt_g", "opt_d"):
        if key in state:
            state[key] = None
    for key in weight_keys:
        state[key] = _half(state[key])
    state.pop("format", None)
    save_checkpoint(model_dir, state, fmt=fmt)
    data = (model_dir / CKPT_NAME).read_bytes()
    parts = []
    for i in range(0, len(data), PART_BYTES):
        part = model_dir / f"{CKPT_NAME}.part{i // PART_BYTES:02d}"
        part.write_bytes(data[i : i + PART_BYTES])
        parts.append(part)
    (model_dir / CKPT_NAME).unlink()
    return parts


def join_parts(model_dir: str | Path) -> Path:
    """Reassemble checkpoint.pt from its parts (the sidecar's SHA-256 then checks the result on load)."""
    root = Path(model_dir)
    parts = sorted(root.glob(f"{CKPT_NAME}.part*"))
    with open(root / CKPT_NAME, "wb") as fh:
        for part in parts:
            fh.write(part.read_bytes())
    return root / CKPT_NAME


def main() -> None:
    import torch

    from dflab.make.gan.model import GAN_PRESETS
    from dflab.make.gan.train import GAN_FORMAT, GanTrainConfig, train_gan
    from dflab.make.swap.model import build_swap_model, preset_config
    from dflab.make.swap.train import TrainConfig, train_swap

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--swap", nargs=2, metavar=("FACESET_A", "FACESET_B"))
    parser.add_argument("--swap-preset", default="small")
    parser.add_argument("--swap-size", type=int, default=128)
    parser.add_argument("--swap-batch", type=int, default=32)
    parser.add_argument("--swap-lr", type=float, default=2e-4)
    parser.add_argument("--swap-seconds", type=float, default=300)
    parser.add_argument("--gan", nargs="*", metavar="FACESET")
    parser.add_argument("--gan-seconds", type=float, default=120)
    parser.add_argument("--speed", action="store_true", help="time training steps at 64 and 128 px")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True
    out = Path(args.out)
    report: dict = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "torch": torch.__version__}
    if args.speed and args.swap:
        report["speed"] = {}
        for size in (64, 128):
            summary = train_swap(*args.swap, out / f"speed{size}", preset_config(args.swap_preset, size),
                                 TrainConfig(iterations=60, batch=args.swap_batch, save_every=0, preview_every=0),
                                 device=device, progress=False)  # fmt: skip
            # The first 10 iterations include cuDNN autotuning; the rate counts the whole run (conservative).
            report["speed"][str(size)] = summary["it_per_s"]
            for f in (out / f"speed{size}").iterdir():
                f.unlink()
            (out / f"speed{size}").rmdir()
    if args.swap:
        cfg = preset_config(args.swap_preset, args.swap_size)
        tc = TrainConfig(iterations=10**6, batch=args.swap_batch, lr=args.swap_lr, warmup=200, save_every=0, preview_every=0)
        started = time.time()
        summary = train_swap(*args.swap, out / "swap", cfg, tc, device=device, progress=False, max_seconds=args.swap_seconds)
        report["swap"] = {k: v for k, v in summary.items() if k != "history"}
        report["swap"]["history_every_100"] = summary["history"][::100]
        report["swap"]["wall_s"] = round(time.time() - started, 1)
        report["swap"]["parameters"] = sum(p.numel() for p in build_swap_model(cfg).parameters())
        slim_and_split(out / "swap", "dflab-swap-v1", ("model",))
    if args.gan:
        tc = GanTrainConfig(iterations=10**6, batch=128, save_every=0, sample_every=0)
        summary = train_gan(args.gan, out / "gan", GAN_PRESETS["dcgan"], tc, device=device, progress=False,
                            max_seconds=args.gan_seconds)  # fmt: skip
        report["gan"] = {k: v for k, v in summary.items() if k != "history"}
        report["gan"]["history_every_200"] = summary["history"][::200]
        slim_and_split(out / "gan", GAN_FORMAT, ("generator", "discriminator"))
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items()}, indent=1)[:4000])


if __name__ == "__main__":
    main()
