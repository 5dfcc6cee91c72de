"""Build the public-domain face-swap showcase in the README (docs/img/swap_preview.jpg, docs/img/swap_frames.jpg).

Why a script: each showcase identity is a single public-domain picture (scikit-image's astronaut photo; the
Mona Lisa), and a swap decoder needs many frames of its person. `frames` turns one picture into a folder of
jittered "frames" (rotation, scale, shift, flip, brightness/contrast/colour, slight blur) that the real
`dflab swap extract` then reads. `grid` and `strip` assemble the README images from a trained model and a
converted clip; both leave through make/disclose.py like every other output (watermark, C2PA, ledger).

    python scripts/swap_showcase.py frames astronaut OUT_DIR -n 160
    python scripts/swap_showcase.py frames PICTURE.jpg OUT_DIR -n 160
    python scripts/swap_showcase.py grid MODEL FACESET_A FACESET_B --out docs/img/swap_preview.jpg
    python scripts/swap_showcase.py strip SOURCE.mp4 CONVERTED.mp4 --frames 20,50,90 --out docs/img/swap_frames.jpg
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One synthetic frame: similarity jitter (+-8 deg, 0.9-1.1 scale, +-4 % shift), flip, photometric noise."""
    import cv2

    h, w = rgb.shape[:2]
    angle, scale = rng.uniform(-8, 8), rng.uniform(0.9, 1.1)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += rng.uniform(-0.04, 0.04, 2) * (w, h)
    out = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    img = out.astype(np.float32)
    contrast, brightness = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
    colour = rng.uniform(0.92, 1.08, 3).astype(np.float32)
    img = (img - img.mean()) * contrast + img.mean() + brightness
    img = np.clip(img * colour, 0, 255).astype(np.uint8)
    sigma = rng.uniform(0.0, 1.2)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    return np.ascontiguousarray(img)


def _load_picture(name: str) -> np.ndarray:
    if name == "astronaut":
        from dflab.samples import astronaut

        return astronaut()
    from dflab.media import load

    return load(name).frames[0].rgb


def cmd_frames(args: argparse.Namespace) -> int:
    from dflab.media import write_image

    rgb = _load_picture(args.picture)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    rng = np.random.default_rng(args.seed)
    for i in range(args.n):
        write_image(out / f"frame_{i:04d}.png", jitter(rgb, rng))
    print(f"{out}: {args.n} jittered frames of {args.picture}")
    return 0


def _upscale(rgb: np.ndarray, factor: int) -> np.ndarray:
    import cv2

    if factor == 1:
        return rgb
    return cv2.resize(rgb, (rgb.shape[1] * factor, rgb.shape[0] * factor), interpolation=cv2.INTER_CUBIC)


def cmd_grid(args: argparse.Namespace) -> int:
    """The training preview (A, A->A, A->B, B, B->B, B->A) of the final checkpoint, disclosed as a JPEG."""
    import torch

    from dflab.make.disclose import disclose_image
    from dflab.make.swap.checkpoint import load_checkpoint
    from dflab.make.swap.faceset import read_faceset
    from dflab.make.swap.model import SwapModelConfig, build_swap_model
    from dflab.make.swap.train import faces_tensor, preview_grid

    state = load_checkpoint(Path(args.model))
    config = SwapModelConfig(**state["config"])
    model = build_swap_model(config)
    model.load_state_dict(state["model"])
    faces_a, _ = faces_tensor(read_faceset(args.faceset_a), config.size, "cpu")
    faces_b, _ = faces_tensor(read_faceset(args.faceset_b), config.size, "cpu")
    torch.manual_seed(0)
    grid = _upscale(preview_grid(model, faces_a, faces_b, rows=args.rows), args.upscale)
    summary = disclose_image(grid, args.out, model=Path(args.model).name, method="faceswap-preview",
                             extra={"iteration": int(state["iteration"]), "columns": "A, A->A, A->B, B, B->B, B->A"})  # fmt: skip
    print(f"{summary['output']}: {grid.shape[1]}x{grid.shape[0]}, iteration {state['iteration']}, record {summary['record']}")
    return 0


def cmd_strip(args: argparse.Namespace) -> int:
    """Chosen frames of the source clip above the same frames of the converted clip, disclosed as a JPEG."""
    import cv2

    from dflab.make.disclose import disclose_image
    from dflab.make.swap.convert import ALL_FRAMES, NO_FRAME_CAP
    from dflab.media import load

    src = load(args.source, policy=ALL_FRAMES, limits=NO_FRAME_CAP, with_audio=False)
    swapped = load(args.converted, policy=ALL_FRAMES, limits=NO_FRAME_CAP, with_audio=False)
    picks = [int(x) for x in args.frames.split(",")]
    if len(src.frames) != len(swapped.frames) or max(picks) >= len(src.frames):
        print(f"frame counts {len(src.frames)} vs {len(swapped.frames)}; picks {picks}", file=sys.stderr)
        return 2

    def crop(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        side = int(min(h, w) * args.crop)
        y0, x0 = (h - side) // 2, (w - side) // 2
        return cv2.resize(rgb[y0 : y0 + side, x0 : x0 + side], (args.tile, args.tile), interpolation=cv2.INTER_AREA)

    top = np.concatenate([crop(src.frames[i].rgb) for i in picks], axis=1)
    bottom = np.concatenate([crop(swapped.frames[i].rgb) for i in picks], axis=1)
    strip = np.ascontiguousarray(np.concatenate([top, bottom], axis=0))
    summary = disclose_image(strip, args.out, sources=[args.source], model=args.model_name, method="faceswap-frames",
                             extra={"frames": picks, "rows": "source | swapped"})  # fmt: skip
    print(f"{summary['output']}: {strip.shape[1]}x{strip.shape[0]}, frames {picks}, record {summary['record']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("frames")
    p.add_argument("picture", help="'astronaut' (scikit-image) or an image path")
    p.add_argument("out")
    p.add_argument("-n", type=int, default=160)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_frames)
    p = verbs.add_parser("grid")
    p.add_argument("model")
    p.add_argument("faceset_a")
    p.add_argument("faceset_b")
    p.add_argument("--out", required=True)
    p.add_argument("--rows", type=int, default=3)
    p.add_argument("--upscale", type=int, default=2)
    p.set_defaults(func=cmd_grid)
    p = verbs.add_parser("strip")
    p.add_argument("source")
    p.add_argument("converted")
    p.add_argument("--frames", default="20,50,90")
    p.add_argument("--out", required=True)
    p.add_argument("--tile", type=int, default=224)
    p.add_argument("--crop", type=float, default=1.0, help="centre square crop as a fraction of the short side")
    p.add_argument("--model-name", default="swap")
    p.set_defaults(func=cmd_strip)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
