"""`dflab train KIND ...`: fit the learned detectors on labelled manifests.

    dflab train synthetic-image MANIFEST.csv --out WEIGHTS.json [--loo] [--json]

Each kind is a subcommand of this verb group (more kinds, such as the face-crop detector, add their own).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dflab.cli.progress import add_quiet_option, progress_bar


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a learned detector from a labelled manifest",
        description="Train one of dflab's learned detectors. Every kind reads a manifest CSV (path,label[,method]) "
        "and writes its weights atomically to --out.",
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    _register_synthetic_image(kinds)
    from dflab.cli.train_detector import register as _register_detector  # the face-crop detector

    _register_detector(kinds)
    from dflab.cli.train_speech import register as _register_speech  # the synthetic-speech detector

    _register_speech(kinds)
    from dflab.cli.train_findings import register as _register_findings  # the findings' calibrated combiners

    _register_findings(kinds)


def _register_synthetic_image(kinds) -> None:
    p = kinds.add_parser(
        "synthetic-image",
        help="the synthetic-image (GAN / generator) detector: spectral features + logistic regression",
        description="Fit the synthetic_image detector's logistic regression on the images of MANIFEST.csv "
        "(label real|fake; method = generator). Every image is also used after a JPEG round trip "
        "(quality 85) so that compression is not learned as a cue. The shipped model was made with "
        "`dflab train synthetic-image ../shared/data/manifests/cnndetection_images.csv --loo "
        "--out src/dflab/detect/learned/weights/synthetic_image.json`.",
    )
    p.add_argument("manifest", metavar="MANIFEST.csv", help="CSV with columns path,label[,method]")
    p.add_argument("--out", required=True, metavar="WEIGHTS.json", help="where to write the model (JSON)")
    p.add_argument("--loo", action="store_true",
                   help="also compute the leave-one-method-out AUC table (train on the other methods, test on one)")
    p.add_argument("--c", type=float, default=None, metavar="C", help="inverse L2 strength (default 0.1)")
    p.add_argument("--no-jpeg-augment", action="store_true", help="train on the images as stored only")
    p.add_argument("--json", action="store_true", help="print one JSON object with the figures")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_quiet_option(p)
    p.set_defaults(func=run_synthetic_image)


def _loo_lines(loo: dict[str, dict]) -> list[str]:
    lines = [f"{'held-out method':<18}{'n':>5}{'AUC':>8}{'AUC (JPEG q85)':>17}"]
    for method, row in loo.items():
        n = "" if method == "mean" else str(row["n_real"] + row["n_fake"])
        lines.append(f"{method:<18}{n:>5}{row['auc']:>8.3f}{row['auc_jpeg']:>17.3f}")
    return lines


def run_synthetic_image(args: argparse.Namespace) -> int:
    from dflab.cli.common import new_output_path, print_json
    from dflab.detect.learned.spectral_features import feature_names
    from dflab.detect.learned.synthetic_model import DEFAULT_C, fit_table, leave_one_group_out, manifest_features
    from dflab.errors import UsageError

    c = DEFAULT_C if args.c is None else args.c
    if not c > 0:
        raise UsageError("--c must be > 0")
    out = new_output_path(args.out, overwrite=args.overwrite)  # checked before the long part
    started = time.perf_counter()
    bar = progress_bar(args, desc="features", unit="image")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    table = manifest_features(args.manifest, progress=progress)
    bar.close()
    if len(set(table.labels.tolist())) < 2:
        raise UsageError(f"{args.manifest}: training needs both real and fake rows")
    names = feature_names()
    augment = not args.no_jpeg_augment
    loo = leave_one_group_out(table, names, c, augment) if args.loo else None
    if loo is not None and len(loo) < 3:
        raise UsageError("--loo needs at least two distinct values in the manifest's method column")
    meta = {
        "trained_on": Path(args.manifest).name,
        "n_images": int(len(table.labels)),
        "n_fake": int(table.labels.sum()),
        "methods": sorted(set(table.methods)),
        "c": c,
        "jpeg_augment": augment,
        "command": "dflab train synthetic-image " + " ".join(sys.argv[3:] if len(sys.argv) > 3 else []),
    }
    if loo is not None:
        meta["leave_one_method_out"] = {k: {kk: round(vv, 4) if isinstance(vv, float) else vv for kk, vv in v.items()}
                                        for k, v in loo.items()}
    meta["command"] = (f"dflab train synthetic-image {Path(args.manifest).name} --out {out.name}"
                       + (" --loo" if args.loo else "") + (f" --c {c}" if args.c is not None else "")
                       + (" --no-jpeg-augment" if not augment else ""))
    model = fit_table(table, names, c=c, augment_jpeg=augment, meta=meta)
    model.save(out)
    seconds = time.perf_counter() - started
    if args.json:
        print_json({"out": str(out), "n_images": meta["n_images"], "n_fake": meta["n_fake"],
                    "methods": meta["methods"], "c": c, "jpeg_augment": augment, "seconds": round(seconds, 2),
                    "leave_one_method_out": loo})
    else:
        print(f"trained on {meta['n_images']} images ({meta['n_fake']} fake), {len(meta['methods'])} methods, "
              f"in {seconds:.1f} s -> {out}")
        if loo is not None:
            print("\n".join(_loo_lines(loo)))
    return 0
