"""Train the `synthetic_image_cnn` detector: leave-one-generator-out folds, then the shipped model.

    python -m dflab.train.synthetic_image_cnn --out src/dflab/detect/learned/weights/synthetic_image_cnn.pt \
        --oof bench/results/synthetic_image_cnn_oof.json

1. Every picture of the development set (dflab.train.synthetic_image_data) is re-compressed once as JPEG at
   its native size, exactly as the detector does at scan time (dflab.media.image.jpeg_roundtrip).
2. For each generator, a network is trained without that generator's fold (its fakes and its paired reals)
   and scores the fold: the out-of-fold log-odds of every picture. The CIPLAB splices are scored, never
   trained on.
3. A Platt scaling (one weight and a bias) is fitted on the out-of-fold log-odds, and a last network is
   trained on every trainable picture but a small test reserve (the last TEST_RESERVE pictures of each source,
   which the tests score); it ships with the scaling and the leave-one-out table in its meta.

Batches are balanced so that no source dominates: half fakes, drawn uniformly over the training generators
(then over their pictures), half reals, drawn uniformly over the real sources. Half of the real crops are
taken from the picture resized by a random factor (0.6-1.6; area, bilinear or bicubic) and JPEG-compressed
again: resizing is what the web does to camera pictures, and must not read as "generated". Crops are taken
at even offsets with random mirroring. Optional pseudo-fakes (real crops down-sampled by 2 and up-sampled
again, `pseudo_share`) are off by default: measured, they taught the network that any interpolation is
generated, and the real UTKFace crops then out-scored most fakes.

Torch runs on one thread (the machine is shared); each network sees `steps * batch_size` crops.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dflab.detect.learned.synthetic_cnn_model import (
    CROP,
    JPEG_QUALITY,
    WIDTH,
    build_net,
    grid_crops,
    save_weights,
    to_tensor,
)
from dflab.errors import UsageError
from dflab.media.image import jpeg_roundtrip
from dflab.train.synthetic_image_data import (
    TEST_RESERVE,
    Picture,
    development_set,
    evaluation_mask,
    generator_folds,
    reserved_for_tests,
)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 400
    batch_size: int = 32
    lr: float = 3e-3  # the peak of a one-cycle schedule
    weight_decay: float = 1e-3
    width: int = WIDTH
    # Of the real crops: the picture resized by a random factor first, and still labelled real. Many camera
    # pictures were resized on their way to the web (UTKFace crops are warped by their alignment); without
    # this, the network learned "interpolated = generated" and rated UTKFace reals above most fakes.
    resampled_real_share: float = 0.5
    # Of the fake half of a batch: pseudo-fakes made from real crops by up-sampling. Off by default: with
    # them, the pooled out-of-fold ranking over all sources came out inverted (see the model card).
    pseudo_share: float = 0.0
    pseudo_upsamplers: str = "all"  # "all" (nearest, bilinear, bicubic, transposed) or "generator" (nearest, transposed)
    seed: int = 0


class PictureStore:
    """The development pictures after the detector's JPEG re-compression, kept as JPEG bytes (a few tens of
    MB) and decoded when a crop is drawn."""

    def __init__(self, pictures: list[Picture], progress: Callable[[int, int], None] | None = None,
                 encoded: list[bytes] | None = None) -> None:
        from PIL import Image

        self.pictures = pictures
        self._decoded: list[np.ndarray] | None = None
        self.encoded: list[bytes] = list(encoded) if encoded is not None else []
        for i, picture in enumerate(pictures if encoded is None else []):
            from dflab.media import load_image_rgb

            rgb = load_image_rgb(picture.path)  # as a scan decodes it (EXIF orientation applied)
            buffer = io.BytesIO()
            # jpeg_roundtrip's encoding, kept as bytes: decoding them gives exactly jpeg_roundtrip(rgb)
            Image.fromarray(rgb).save(buffer, "JPEG", quality=JPEG_QUALITY)
            self.encoded.append(buffer.getvalue())
            if progress:
                progress(i + 1, len(pictures))

    def decode_all(self) -> None:
        """Keep every picture decoded (about 2 GB): crops are then slices, not JPEG decodes (for fast trainers)."""
        self._decoded = [self._decode(i) for i in range(len(self.encoded))]

    def rgb(self, i: int) -> np.ndarray:
        return self._decoded[i] if self._decoded is not None else self._decode(i)

    def _decode(self, i: int) -> np.ndarray:
        from PIL import Image

        with Image.open(io.BytesIO(self.encoded[i])) as im:
            return np.asarray(im.convert("RGB"))

    def random_crop(self, i: int, rng: np.random.Generator, size: int = CROP) -> np.ndarray:
        rgb = self.rgb(i)
        y = int(rng.integers(0, (rgb.shape[0] - size) // 2 + 1)) * 2
        x = int(rng.integers(0, (rgb.shape[1] - size) // 2 + 1)) * 2
        crop = rgb[y : y + size, x : x + size]
        return crop[:, ::-1] if rng.random() < 0.5 else crop


def resampled_crop(store: PictureStore, i: int, rng: np.random.Generator, size: int = CROP) -> np.ndarray:
    """A crop of picture i resized by a random factor in [0.6, 1.6] (area, bilinear or bicubic), then
    JPEG-compressed: a real picture that was resized for the web is still real."""
    import cv2

    rgb = store.rgb(i)
    factor = float(rng.uniform(0.6, 1.6))
    side = min(int(np.ceil(size / factor)), *rgb.shape[:2])
    y, x = int(rng.integers(0, rgb.shape[0] - side + 1)), int(rng.integers(0, rgb.shape[1] - side + 1))
    method = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(3))]
    crop = cv2.resize(np.ascontiguousarray(rgb[y : y + side, x : x + side]), (size, size), interpolation=method)
    return jpeg_roundtrip(crop[:, ::-1] if rng.random() < 0.5 else crop, JPEG_QUALITY)


def pseudo_fake(crop: np.ndarray, rng: np.random.Generator, upsamplers: str = "all") -> np.ndarray:
    """A real crop down-sampled by 2 and up-sampled back by a random up-sampler, then JPEG-compressed as
    every crop is (so compression never tells pseudo-fakes from reals)."""
    import cv2

    size = crop.shape[0]
    small = cv2.resize(np.ascontiguousarray(crop), (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    kind = int(rng.integers(4)) if upsamplers == "all" else (0, 3)[int(rng.integers(2))]
    if kind < 3:
        up = cv2.resize(small, (size, size), interpolation=(cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC)[kind])
    else:  # zero insertion and a random positive 4x4 kernel: what a transposed convolution does
        sparse = np.zeros((size, size, 3), np.float32)
        sparse[::2, ::2] = small
        kernel = rng.random((4, 4)).astype(np.float32) + 0.5
        up = np.clip(cv2.filter2D(sparse, -1, kernel * (4.0 / kernel.sum())), 0, 255).astype(np.uint8)
    return jpeg_roundtrip(up, JPEG_QUALITY)


def _by_source(pictures: list[Picture], indices: np.ndarray, label: int) -> list[np.ndarray]:
    groups: dict[str, list[int]] = {}
    for i in indices:
        if pictures[i].label == label and pictures[i].trainable:
            groups.setdefault(pictures[i].source, []).append(int(i))
    return [np.array(groups[k]) for k in sorted(groups)]


def train_net(store: PictureStore, indices: np.ndarray, config: TrainConfig,
              progress: Callable[[int, int, float], None] | None = None, device: str = "cpu"):
    """A network trained on the trainable pictures among `indices` (balanced batches, pseudo-fakes)."""
    import torch
    from torch.nn import functional as F

    fakes, reals = _by_source(store.pictures, indices, 1), _by_source(store.pictures, indices, 0)
    if not fakes or not reals:
        raise UsageError("training needs both real and generated pictures")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    net = build_net(config.width).to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=config.steps)
    half = config.batch_size // 2
    n_pseudo = int(round(config.pseudo_share * half))
    net.train()
    for step in range(config.steps):
        fake_ids = [rng.choice(fakes[rng.integers(len(fakes))]) for _ in range(half - n_pseudo)]
        real_ids = [rng.choice(reals[rng.integers(len(reals))]) for _ in range(half + n_pseudo)]
        crops = [store.random_crop(i, rng) for i in fake_ids]
        crops += [resampled_crop(store, i, rng) if rng.random() < config.resampled_real_share
                  else store.random_crop(i, rng) for i in real_ids]
        for j in range(1, n_pseudo + 1):
            crops[-j] = pseudo_fake(crops[-j], rng, config.pseudo_upsamplers)
        target = torch.tensor([1.0] * (half - n_pseudo) + [0.0] * half + [1.0] * n_pseudo, device=device)
        loss = F.binary_cross_entropy_with_logits(net(to_tensor(crops).to(device)), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if progress:
            progress(step + 1, config.steps, float(loss))
    net.eval()
    return net.to("cpu")


def score_pictures(net, store: PictureStore, indices: np.ndarray) -> np.ndarray:
    """Mean log-odds over the detector's grid crops, per picture (the detector's own reading)."""
    import torch

    out = np.zeros(len(indices))
    with torch.inference_mode():
        for k, i in enumerate(indices):
            out[k] = float(net(to_tensor(grid_crops(store.rgb(int(i))))).double().mean())
    return out


def auc_table(pictures: list[Picture], scores: np.ndarray) -> dict[str, dict]:
    """Per held-out generator: AUC of its fakes against its paired reals; plus the mean over generators."""
    from dflab.eval.metrics import roc_auc

    labels = np.array([p.label for p in pictures])
    table = {}
    for generator in generator_folds(pictures):
        mask = np.array(evaluation_mask(pictures, generator))
        table[generator] = {"auc": round(float(roc_auc(labels[mask], scores[mask])), 4),
                            "n_fake": int(labels[mask].sum()), "n_real": int((labels[mask] == 0).sum())}
    table["mean"] = {"auc": round(float(np.mean([v["auc"] for v in table.values()])), 4)}
    return table


def leave_one_generator_out(store: PictureStore, config: TrainConfig, folds: list[str] | None = None,
                            log: Callable[[str], None] = print, jobs: int = 1, device: str = "cpu",
                            store_file: Path | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """(out-of-fold log-odds per picture, NaN where its fold was not run; seconds per fold).

    With jobs > 1 the folds train in that many processes, each reading the store from `store_file`."""
    pictures = store.pictures
    oof = np.full(len(pictures), np.nan)
    seconds = {}
    folds = folds or generator_folds(pictures)
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(min(jobs, len(folds)), mp_context=get_context("spawn")) as pool:
            results = [pool.submit(_fold_job, store_file, pictures, fold, config, device) for fold in folds]
            done = [r.result() for r in results]
    else:
        done = [_fold_job(None, pictures, fold, config, device, store) for fold in folds]
    for fold, held, scores, took in done:
        oof[held] = scores
        seconds[fold] = took
        log(f"fold {fold}: {len(held)} pictures scored, {took:.0f} s")
    return oof, seconds


_WORKER_STORE: PictureStore | None = None  # one per fold process, read once from the store file


def _fold_job(store_file: Path | None, pictures: list[Picture], fold: str, config: TrainConfig, device: str,
              store: PictureStore | None = None) -> tuple[str, np.ndarray, np.ndarray, float]:
    """Train without `fold`, score `fold`: (fold, held indices, their log-odds, seconds)."""
    global _WORKER_STORE
    if store is None:
        import torch

        torch.set_num_threads(1)
        if _WORKER_STORE is None:
            _WORKER_STORE = PictureStore(pictures, encoded=read_store(store_file, pictures))
            _WORKER_STORE.decode_all()
        store = _WORKER_STORE
    started = time.perf_counter()
    fold_of = np.array([p.fold for p in pictures])
    net = train_net(store, np.flatnonzero(fold_of != fold), config, device=device)
    held = np.flatnonzero(fold_of == fold)
    return fold, held, score_pictures(net, store, held), round(time.perf_counter() - started, 1)


def write_store(path: Path, store: PictureStore, shared: Path) -> None:
    """The re-compressed pictures with their paths relative to the shared folder (to train elsewhere)."""
    import pickle

    paths = [relative_path(str(p.path), shared) for p in store.pictures]
    path.write_bytes(pickle.dumps({"paths": paths, "encoded": store.encoded}))


def read_store(path: Path, pictures: list[Picture], shared: Path | None = None) -> list[bytes]:
    import pickle

    data = pickle.loads(Path(path).read_bytes())
    if len(data["encoded"]) != len(pictures) or (
            shared is not None and data["paths"] != [relative_path(str(p.path), shared) for p in pictures]):
        raise UsageError(f"{path} holds another development set than {shared or 'this one'}")
    return data["encoded"]


def fit_platt(log_odds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """One weight and a bias on the out-of-fold log-odds (the trainable pictures), so the score is calibrated."""
    from dflab.detect.learned.synthetic_model import fit_logistic

    weight, bias = fit_logistic(log_odds[:, None], labels, c=1e6)
    return {"weight": round(float(weight[0]), 5), "bias": round(float(bias), 5)}


def oof_records(pictures: list[Picture], log_odds: np.ndarray, platt: dict) -> list[dict]:
    from dflab.detect.learned.synthetic_image_cnn import calibrated

    return [{"path": str(p.path), "label": p.label, "source": p.source, "fold": p.fold, "trainable": p.trainable,
             "log_odds": round(float(z), 5), "score": round(calibrated(float(z), {"platt": platt}), 5)}
            for p, z in zip(pictures, log_odds)]


def relative_path(path: str, shared: Path) -> str:
    """A path under the shared data folder, written relative to it (what the OOF file stores)."""
    try:
        return str(Path(path).resolve().relative_to(shared.resolve()))
    except ValueError:
        return path


def run(shared: Path, out: Path | None, oof_path: Path | None, config: TrainConfig, folds: list[str] | None = None,
        limit_per_source: int | None = None, log: Callable[[str], None] = print, jobs: int = 1,
        device: str = "cpu", store_file: Path | None = None) -> dict:
    """The whole recipe; returns the summary (leave-one-out table, Platt scaling, timings).

    `store_file`: the re-compressed pictures, read when it exists (built and written there otherwise)."""
    import tempfile

    import torch

    torch.set_num_threads(1)
    pictures = development_set(shared)
    if limit_per_source:
        pictures = _first_per_source(pictures, limit_per_source)
    started = time.perf_counter()
    if store_file is not None and store_file.exists():
        store = PictureStore(pictures, encoded=read_store(store_file, pictures, shared))
    else:
        store = PictureStore(pictures)
        store_file = store_file or (Path(tempfile.mkdtemp()) / "store.pkl" if jobs > 1 else None)
        if store_file is not None:
            write_store(store_file, store, shared)
    log(f"{len(pictures)} pictures re-compressed in {time.perf_counter() - started:.0f} s")
    if device != "cpu":
        store.decode_all()
    oof, seconds = leave_one_generator_out(store, config, folds, log, jobs, device, store_file)
    labels = np.array([p.label for p in pictures])
    trainable = np.array([p.trainable for p in pictures]) & np.isfinite(oof)
    summary: dict = {"config": asdict(config), "fold_seconds": seconds}
    if folds is None:
        summary["leave_one_generator_out"] = auc_table(pictures, oof)
        platt = fit_platt(oof[trainable], labels[trainable])
        summary["platt"] = platt
        if oof_path is not None:
            records = oof_records(pictures, oof, platt)
            for r in records:
                r["path"] = relative_path(r["path"], shared)
            oof_path.parent.mkdir(parents=True, exist_ok=True)
            oof_path.write_text(json.dumps({"config": asdict(config), "records": records}) + "\n")
            log(f"wrote {oof_path}")
    else:
        summary["oof"] = oof
    if out is not None:
        started = time.perf_counter()
        net = train_net(store, np.flatnonzero(~np.array(reserved_for_tests(pictures))), config, device=device)
        summary["final_seconds"] = round(time.perf_counter() - started, 1)
        meta = {
            "width": config.width, "crop": CROP, "jpeg_quality": JPEG_QUALITY, "platt": summary.get("platt"),
            "trained_on": "../shared/data faces (StyleGAN2, Stable Diffusion 2.1 and their reals, UTKFace, RMFD, "
                          "CIPLAB reals; CIPLAB splices left out) and cnndetection (8 generators)",
            "train_config": asdict(config),
            "test_reserve_per_source": TEST_RESERVE,
            "leave_one_generator_out": summary.get("leave_one_generator_out"),
            "command": "python -m dflab.train.synthetic_image_cnn --out "
                       "src/dflab/detect/learned/weights/synthetic_image_cnn.pt "
                       "--oof bench/results/synthetic_image_cnn_oof.json "
                       f"--steps {config.steps} --batch-size {config.batch_size} --pseudo-share {config.pseudo_share}"
                       f"{' --device ' + device if device != 'cpu' else ''}",
        }
        save_weights(net, out, meta)
        log(f"wrote {out}")
    return summary


def _first_per_source(pictures: list[Picture], n: int) -> list[Picture]:
    seen: dict[str, int] = {}
    kept = []
    for p in pictures:
        if seen.get(p.source, 0) < n:
            seen[p.source] = seen.get(p.source, 0) + 1
            kept.append(p)
    return kept


def default_shared() -> Path:
    return Path(os.environ.get("DFLAB_SHARED_DATA", Path(__file__).resolve().parents[4] / "shared" / "data"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflab.train.synthetic_image_cnn", description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=default_shared(),
                        help="the shared data folder (default: $DFLAB_SHARED_DATA or ../shared/data beside the checkout)")
    parser.add_argument("--out", type=Path, help="where to write the shipped weights (.pt)")
    parser.add_argument("--oof", type=Path, help="where to write the out-of-fold scores (JSON)")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--pseudo-share", type=float, default=TrainConfig.pseudo_share)
    parser.add_argument("--folds", help="comma-separated held-out generators to run (default: all, and the table)")
    parser.add_argument("--jobs", type=int, default=1, help="folds trained at once, in that many processes")
    parser.add_argument("--device", default="cpu", help="torch device for training, e.g. cuda (default: cpu)")
    parser.add_argument("--store", type=Path,
                        help="the re-compressed pictures: read from this file if it exists, else written there")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.steps < 1:
            raise UsageError("--steps must be >= 1")
        for path in (args.out, args.oof):
            if path is not None and path.exists() and not args.overwrite:
                raise UsageError(f"{path} already exists (use --overwrite)")
        if not args.shared.is_dir():
            raise UsageError(f"shared data folder {args.shared} not found (use --shared)")
        folds = [f.strip() for f in args.folds.split(",")] if args.folds else None
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size, pseudo_share=args.pseudo_share)
        summary = run(args.shared, args.out, args.oof, config, folds, jobs=args.jobs, device=args.device,
                      store_file=args.store)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary.pop("oof", None)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
