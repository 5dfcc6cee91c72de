"""Fit the synthetic_image_probe detector's weights, and its out-of-fold scores for the finding's combiner.

    python -m dflab.train.synthetic_image_probe --variant image_residual_early_mid --c 0.001 \
        --out src/dflab/detect/learned/weights/synthetic_image_probe.json \
        --oof-out bench/results/synthetic_image_probe_oof.json \
        --held-out-heads src/dflab/detect/learned/weights/synthetic_image_probe_held_out.json

Reads the feature cache of dflab.train.synthetic_image_logo (extracting what is missing). The variant and its
regularisation are the ones chosen on the leave-one-generator-out table (bench/results/synthetic_image_logo.json).
The shipped model is fitted on every trainable picture of the development set except the last pictures of
each face source (dflab.train.synthetic_image_data.reserved_for_tests), which tests score as unseen pictures.
The out-of-fold scores (each picture scored by a model fitted without its generator fold, and without the
reserved pictures) feed `python -m dflab.train.synthetic_image_finding --probe-oof`. The same recipe fitted
without each face generator is kept as well (`--held-out-heads`): tests and benchmarks check on pictures of a
generator that model never saw, without refitting.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dflab.train.synthetic_image_data import development_set, reserved_for_tests
from dflab.train.synthetic_image_logo import (extract, fit_standardised, logo_row, logo_scores,
                                              variant_columns)

DEFAULT_VARIANT = "image_residual_early_mid"
DEFAULT_C = 0.001
FACE_GENERATORS = ("stylegan2", "sd21")


def _rounded(model_json: dict) -> dict:
    return {k: ([float(f"{v:.6g}") for v in value] if k in ("mean", "scale", "coef") else value)
            for k, value in model_json.items()}


def all_feature_names() -> list[str]:
    """Names of the columns of [backbone features | spectral features], as the detector reads them."""
    from dflab.detect.learned import probe_features
    from dflab.detect.learned.spectral_features import feature_names as spectral_names
    from dflab.detect.learned.synthetic_image_probe import SPECTRAL_PREFIX

    return probe_features.feature_names() + [SPECTRAL_PREFIX + n for n in spectral_names()]


def main(argv: list[str] | None = None) -> int:
    from dflab.detect.learned.synthetic_model import SyntheticImageModel
    from dflab.errors import DflabError, UsageError
    from dflab.train.synthetic_image_cnn import default_shared

    parser = argparse.ArgumentParser(prog="python -m dflab.train.synthetic_image_probe",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "dflab" / "synthetic_image_probe_features.npz")
    parser.add_argument("--variant", default=DEFAULT_VARIANT)
    parser.add_argument("--c", type=float, default=DEFAULT_C)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--oof-out", type=Path, required=True)
    parser.add_argument("--held-out-heads", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        pictures = development_set(args.shared)
        data = extract(pictures, args.cache)
        names = all_feature_names()
        variants = variant_columns(names[:data["probe"].shape[1]], data["spectral"].shape[1])
        if args.variant not in variants:
            raise UsageError(f"unknown variant {args.variant!r} (one of {', '.join(variants)})")
        cols = variants[args.variant]
        x = np.concatenate([data["probe"].astype(np.float64), data["spectral"]], axis=1)[:, cols]
    except DflabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    labels = np.array([p.label for p in pictures], dtype=np.float64)
    fit_mask = ~np.array(reserved_for_tests(pictures))
    oof = logo_scores(x, pictures, args.c, fit_mask)
    table = logo_row(pictures, oof)
    train = fit_mask & np.array([p.trainable for p in pictures])
    mean, scale, coef, intercept = fit_standardised(x[train], labels[train], args.c)
    command = (f"python -m dflab.train.synthetic_image_probe --variant {args.variant} --c {args.c:g} "
               f"--out {args.out} --oof-out {args.oof_out} --held-out-heads {args.held_out_heads}")
    meta = {"variant": args.variant, "c": args.c, "backbone": "EfficientNet-Lite0 (ImageNet, frozen)",
            "trained_on": f"../shared/data faces/ + cnndetection/: {int(train.sum())} pictures "
                          f"({int(labels[train].sum())} generated), last pictures of each face source held back",
            "leave_one_generator_out_auc": table, "command": command}
    model = SyntheticImageModel([names[i] for i in cols], mean, scale, coef, float(intercept), meta)
    model.save(args.out)
    folds = np.array([p.fold for p in pictures])
    heads = {}
    for generator in FACE_GENERATORS:
        fit = train & (folds != generator)
        fold_model = SyntheticImageModel([names[i] for i in cols], *fit_standardised(x[fit], labels[fit], args.c))
        heads[generator] = _rounded(fold_model.to_json())
    from dflab.atomic import write_text_atomic

    write_text_atomic(args.held_out_heads, json.dumps({"variant": args.variant, "c": args.c, "command": command,
                                                       "heads": heads}) + "\n")
    records = [{"path": str(p.path.relative_to(args.shared)) if p.path.is_relative_to(args.shared) else str(p.path),
                "score": round(float(1 / (1 + np.exp(-s))), 6), "fold": p.fold, "label": p.label}
               for p, s in zip(pictures, oof)]
    args.oof_out.parent.mkdir(parents=True, exist_ok=True)
    args.oof_out.write_text(json.dumps({"variant": args.variant, "c": args.c, "logo_auc": table,
                                        "records": records}) + "\n")
    print(json.dumps(table, indent=1))
    print(f"wrote {args.out} and {args.oof_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
