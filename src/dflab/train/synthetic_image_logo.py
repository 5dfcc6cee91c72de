"""Leave-one-generator-out (LOGO) harness of the generated-picture detectors, over all 10 generators
(faces/: StyleGAN2, Stable Diffusion 2.1; cnndetection/: 8 generators), each generator's fakes against its
paired or matched reals (dflab.train.synthetic_image_data).

    python -m dflab.train.synthetic_image_logo [--cache FILE] [--out bench/results/synthetic_image_logo.json]

1. Features: every picture is normalised alike (dflab.detect.learned.probe_features.normalise: centre square,
   one bicubic resize to 224 px, one JPEG re-compression at quality 90), then described by frozen ImageNet
   EfficientNet-Lite0 activations pooled at several depths, of the picture and of its noise residual, and by
   the hand-made spectral features of the synthetic_image detector on the same normalised picture. Cached (npz).
2. Confound check: trivial properties of the file (width, height, file size, JPEG quantisation, mean
   brightness), each scored as a detector on every held-out generator's fakes against its reals. A property
   that separates them (AUC >= 0.75 either way) is reported; the normalisation removes size, format and
   quantisation from what any model sees, and the check is rerun on the normalised pictures to show it.
3. Variants: feature subsets, each standardised + L2 logistic regression, fitted without the held-out
   generator's fold, scored on it. Per generator AUC, the mean, the two face generators.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from dflab.train.synthetic_image_data import Picture, development_set, evaluation_mask, generator_folds

FACE_GENERATORS = ("stylegan2", "sd21")
CONFOUND_AUC = 0.75  # a trivial property this separable (either way) is reported as a confound
TRIVIAL = ("width", "height", "file_bytes", "jpeg_quant", "brightness", "norm_brightness", "norm_png_bytes")
TRIVIAL_AFTER_NORMALISATION = ("norm_brightness", "norm_png_bytes")


def trivial_properties(path: Path, rgb: np.ndarray, normalised: np.ndarray) -> list[float]:
    """The TRIVIAL properties of one picture: of the file as stored, and of the normalised picture."""
    import io

    from PIL import Image

    with Image.open(path) as image:
        tables = getattr(image, "quantization", None) or {}
        quant = float(np.mean(tables[0])) if 0 in tables else 0.0  # luma table; 0 for PNG and other lossless
    buffer = io.BytesIO()
    Image.fromarray(normalised).save(buffer, format="PNG")  # lossless size of the normalised picture
    return [float(rgb.shape[1]), float(rgb.shape[0]), float(path.stat().st_size), quant, float(rgb.mean()),
            float(normalised.mean()), float(len(buffer.getvalue()))]


def extract(pictures: list[Picture], cache: Path, log=print, mode: str = "resize") -> dict[str, np.ndarray]:
    """{"probe", "spectral", "trivial", "paths"} for `pictures`, read from / saved to `cache` (resumable)."""
    import torch

    from dflab.detect.learned import probe_features as pf
    from dflab.detect.learned.spectral_features import patch_features
    from dflab.media import load_image_rgb

    torch.set_num_threads(1)
    paths = np.array([str(p.path) for p in pictures])
    done: dict[str, np.ndarray] = {}
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        done = {k: stored[k] for k in stored.files}
        if len(done["paths"]) == len(paths) and bool(np.all(done["paths"] == paths)) and done["filled"].all():
            return done
    n = len(pictures)
    if not done or len(done["paths"]) != n or not bool(np.all(done["paths"] == paths)):
        done = {"probe": np.zeros((n, len(pf.feature_names())), np.float32), "spectral": None,
                "trivial": np.zeros((n, len(TRIVIAL))), "paths": paths, "filled": np.zeros(n, bool)}
    start = time.time()
    for i, picture in enumerate(pictures):
        if done["filled"][i]:
            continue
        rgb = load_image_rgb(picture.path)
        normalised = pf.normalise(rgb, mode=mode)
        spectral = patch_features(normalised)
        if done["spectral"] is None or done["spectral"].ndim != 2:
            done["spectral"] = np.zeros((n, spectral.size))
        done["probe"][i] = pf.features(rgb, mode=mode)
        done["spectral"][i] = spectral
        done["trivial"][i] = trivial_properties(picture.path, rgb, normalised)
        done["filled"][i] = True
        if (i + 1) % 200 == 0 or i + 1 == n:
            np.savez(cache, **done)
            log(f"{i + 1}/{n} pictures ({time.time() - start:.0f} s)")
    return done


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from dflab.eval.metrics import roc_auc

    return float(roc_auc(y, s))


def confounds(pictures: list[Picture], trivial: np.ndarray) -> dict[str, dict]:
    """Per held-out generator, each trivial property's AUC (fakes vs paired reals), and those >= CONFOUND_AUC
    either way, before and after the normalisation."""
    labels = np.array([p.label for p in pictures])
    out = {}
    for generator in generator_folds(pictures):
        mask = np.array(evaluation_mask(pictures, generator))
        aucs = {name: round(_auc(labels[mask], trivial[mask, j]), 3) for j, name in enumerate(TRIVIAL)}
        separating = [n for n, a in aucs.items() if max(a, 1 - a) >= CONFOUND_AUC]
        out[generator] = {"auc": aucs, "separating_as_stored": [n for n in separating if n not in TRIVIAL_AFTER_NORMALISATION],
                          "separating_after_normalisation": [n for n in separating if n in TRIVIAL_AFTER_NORMALISATION]}
    return out


def variant_columns(names_probe: list[str], n_spectral: int) -> dict[str, np.ndarray]:
    """Feature subsets to compare: column indices into [probe | spectral]."""
    probe = np.array(names_probe)
    source = np.array([n.split(".")[0] for n in probe])
    tap = np.array([n.split(".")[1] for n in probe])
    early = np.isin(tap, ("stem", "b2", "b4"))
    spectral = np.arange(len(probe), len(probe) + n_spectral)

    def idx(mask):
        return np.flatnonzero(mask)

    return {
        "image_head": idx((source == "image") & (tap == "head")),
        "image_early": idx((source == "image") & early),
        "image_mid_late": idx((source == "image") & np.isin(tap, ("b10", "b15"))),
        "image_all_depths": idx(source == "image"),
        "residual_early": idx((source == "residual") & early),
        "residual_all_depths": idx(source == "residual"),
        "image_residual_early_mid": idx(early | (tap == "b10")),
        "image_residual_all": idx(np.ones(len(probe), bool)),
        "spectral": spectral,
        "image_residual_all_spectral": np.concatenate([idx(np.ones(len(probe), bool)), spectral]),
    }


def fit_standardised(x: np.ndarray, y: np.ndarray, c: float):
    """(mean, scale, coef, intercept) of a standardised L2 logistic regression."""
    from dflab.detect.learned.synthetic_model import fit_logistic

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    coef, intercept = fit_logistic((x - mean) / scale, y, c)
    return mean, scale, coef, intercept


def logo_scores(x: np.ndarray, pictures: list[Picture], c: float, fit_mask: np.ndarray | None = None) -> np.ndarray:
    """Out-of-fold log-odds of every picture: the model that scores a fold never saw it (CIPLAB splices are
    scored, never fitted on; nor is any picture outside `fit_mask`)."""
    labels = np.array([p.label for p in pictures], dtype=np.float64)
    trainable = np.array([p.trainable for p in pictures])
    if fit_mask is not None:
        trainable &= fit_mask
    folds = np.array([p.fold for p in pictures])
    out = np.zeros(len(pictures))
    for generator in generator_folds(pictures):
        test = folds == generator
        train = trainable & ~test
        mean, scale, coef, intercept = fit_standardised(x[train], labels[train], c)
        out[test] = ((x[test] - mean) / scale) @ coef + intercept
    return out


def logo_row(pictures: list[Picture], scores: np.ndarray) -> dict:
    """AUC per held-out generator (its fakes vs its paired reals), the mean, and the two face generators."""
    labels = np.array([p.label for p in pictures])
    row = {}
    for generator in generator_folds(pictures):
        mask = np.array(evaluation_mask(pictures, generator))
        row[generator] = round(_auc(labels[mask], scores[mask]), 4)
    row["mean"] = round(float(np.mean(list(row.values()))), 4)
    row["faces_mean"] = round(float(np.mean([row[g] for g in FACE_GENERATORS])), 4)
    return row


def print_table(rows: dict[str, dict], generators: list[str]) -> None:
    short = [g[:9] for g in generators]
    print(f"{'variant':<34}" + "".join(f"{s:>10}" for s in short) + f"{'mean':>8}{'faces':>8}")
    for name, row in rows.items():
        print(f"{name:<34}" + "".join(f"{row[g]:>10.3f}" for g in generators)
              + f"{row['mean']:>8.3f}{row['faces_mean']:>8.3f}")


def main(argv: list[str] | None = None) -> int:
    from dflab.errors import DflabError
    from dflab.train.synthetic_image_cnn import default_shared

    parser = argparse.ArgumentParser(prog="python -m dflab.train.synthetic_image_logo",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "dflab" / "synthetic_image_probe_features.npz")
    parser.add_argument("--out", type=Path, default=Path("bench/results/synthetic_image_logo.json"))
    parser.add_argument("--oof-cache", type=Path, default=Path.home() / ".cache" / "dflab" / "synthetic_image_logo_oof.npz",
                        help="every variant's out-of-fold log-odds (for inspection; not committed)")
    parser.add_argument("--c", type=float, nargs="+", default=[0.0001, 0.001, 0.01])
    parser.add_argument("--variants", nargs="+", help="only these feature variants (default: all)")
    parser.add_argument("--fit-without", nargs="+", default=[], metavar="SOURCE",
                        help="real or fake sources never fitted on (still scored), e.g. utkface")
    parser.add_argument("--normalise", choices=("resize", "crop"), default="resize",
                        help="resize: centre square resized to 224 px; crop: the centre 224 px at native pixels")
    parser.add_argument("--skip-source", nargs="+", default=[], metavar="SOURCE",
                        help="sources left out of the run altogether (neither fitted on nor scored)")
    parser.add_argument("--extract-only", action="store_true")
    args = parser.parse_args(argv)
    try:
        pictures = [p for p in development_set(args.shared) if p.source not in args.skip_source]
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        data = extract(pictures, args.cache, mode=args.normalise)
    except DflabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.extract_only:
        return 0
    from dflab.detect.learned import probe_features as pf

    x_all = np.concatenate([data["probe"].astype(np.float64), data["spectral"]], axis=1)
    generators = generator_folds(pictures)
    found = confounds(pictures, data["trivial"])
    print("confound check: trivial properties that separate a held-out generator's fakes from its reals (AUC >= 0.75)")
    for generator, row in found.items():
        print(f"  {generator:<12} as stored: {', '.join(row['separating_as_stored']) or '-':<40} "
              f"after normalisation: {', '.join(row['separating_after_normalisation']) or '-'}")
    rows, oof = {}, {}
    fit_mask = np.array([p.source not in args.fit_without for p in pictures])
    for name, cols in variant_columns(pf.feature_names(), data["spectral"].shape[1]).items():
        if args.variants and name not in args.variants:
            continue
        for c in args.c:
            key = f"{name} C={c:g}"
            oof[key] = logo_scores(x_all[:, cols], pictures, c, fit_mask)
            rows[key] = logo_row(pictures, oof[key])
            print(f"{key:<34} mean {rows[key]['mean']:.3f} faces {rows[key]['faces_mean']:.3f}", flush=True)
    print_table(rows, generators)
    report = {"generators": generators, "normalisation": {"mode": args.normalise, "side": pf.SIDE,
                                                          "jpeg_quality": pf.JPEG_QUALITY},
              "skipped_sources": args.skip_source,
              "n_pictures": len(pictures), "fitted_without": args.fit_without, "confounds": found, "logo_auc": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    np.savez(args.oof_cache, paths=np.array([str(p.path) for p in pictures]), **{k: v for k, v in oof.items()})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
