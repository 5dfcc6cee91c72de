"""`dflab train fusion`: fit the fusion table on a labelled development manifest (dflab.detect.calibration).

    dflab train fusion MANIFEST.csv --out fusion_fitted.json [--cache DIR] [--media-type video] [--l2 X] [--json]
    dflab train fusion IMAGES.csv --out fusion_fitted.json --media-type image --merge   (the image slot)

Registered as a kind of the `train` verb group (dflab/cli/train.py calls `register`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dflab.cli.progress import add_quiet_option, progress_bar

SHIPPED_COMMAND = ("python -m dflab.train.devset /tmp/devset && "
                   "dflab train fusion /tmp/devset/manifest.csv --out src/dflab/detect/fusion_fitted.json --overwrite")
SHIPPED_IMAGE_COMMAND = ("python -m dflab.train.devset_images /tmp/imgdev && dflab train fusion "
                         "/tmp/imgdev/manifest.csv --out src/dflab/detect/fusion_fitted.json --media-type image --merge")


def register(kinds) -> None:
    p = kinds.add_parser(
        "fusion",
        help="the calibrated fusion table: logistic regression over every detector's evidence, per face track",
        description="Scan every file of MANIFEST.csv (path,label[,method,group]) with the whole scanner, keep "
        "each file's evidence in a cache (a rerun only refits), and fit the fusion table over confidence x "
        "logit(score) per detector: per-cue L2 logistic weights, or Platt scaling of the hand-set table, "
        "judged by leave-one-group-out cross-validation against the hand-set table. The table is marked for default use only if it beats "
        f"the hand-set one held out. The shipped table comes from `{SHIPPED_COMMAND}`; its image slot from "
        f"`{SHIPPED_IMAGE_COMMAND}`.",
    )
    p.add_argument("manifest", metavar="MANIFEST.csv", help="labelled files; a `group` column keeps footage together")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the fitted table (JSON)")
    p.add_argument("--cache", metavar="DIR", help="scan-record cache (default: .scan_cache beside the manifest)")
    p.add_argument("--media-type", default="video", choices=["video", "image", "audio", "all"],
                   help="fit on files of this type only; the table is used for that type only (default video)")
    p.add_argument("--scanner", metavar="FINGERPRINT",
                   help="fit on the cached records of this earlier scanner version instead of scanning "
                   "(the table's meta.scanner names the version it was fitted on)")
    p.add_argument("--l2", type=float, default=None, help="L2 penalty of the logistic fit (default 1.0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--merge", action="store_true",
                   help="put the table into the existing --out file's slot for --media-type, keeping the tables "
                   "of the other media types there")
    p.add_argument("--json", action="store_true", help="print the fitted table's figures as one JSON object")
    add_quiet_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dflab.atomic import write_text_atomic
    from dflab.cli.common import new_output_path, print_json
    from dflab.detect.calibration import DEFAULT_L2, fit_table, merge_table
    from dflab.errors import UsageError
    from dflab.eval.scan_records import scan_manifest

    l2 = DEFAULT_L2 if args.l2 is None else args.l2
    if not l2 > 0:
        raise UsageError("--l2 must be > 0")
    if args.merge and (args.media_type == "all" or not Path(args.out).is_file()):
        raise UsageError("--merge needs one --media-type and an existing --out table to merge into")
    out = new_output_path(args.out, overwrite=args.overwrite or args.merge)
    cache = Path(args.cache) if args.cache else Path(args.manifest).resolve().parent / ".scan_cache"
    started = time.perf_counter()
    bar = progress_bar(args, desc="scan", unit="file")

    def progress(done: int, total: int, path: str) -> None:
        bar.total = total
        bar.update(done - bar.n)

    records, errors = scan_manifest(args.manifest, cache, progress=progress, fingerprint=args.scanner)
    bar.close()
    for err in errors:
        print(f"skipped {err}", file=sys.stderr)
    media_type = None if args.media_type == "all" else args.media_type
    table = fit_table(records, l2=l2, media_type=media_type)
    table["meta"]["trained_on"] = Path(args.manifest).name
    table["meta"]["scanner"] = records[0]["scanner"] if records else None  # the detectors' code and weights
    table["meta"]["command"] = (f"dflab train fusion {Path(args.manifest).name} --out {out.name} "
                                f"--media-type {args.media_type}" + (f" --l2 {l2}" if args.l2 is not None else "")
                                + (" --merge" if args.merge else ""))
    table["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    written = merge_table(json.loads(out.read_text()), table) if args.merge else table
    write_text_atomic(out, json.dumps(written, indent=1) + "\n")
    meta = table["meta"]
    summary = {"out": str(out), "n_files": meta["n_files"], "n_fake": meta["n_fake"], "chosen": meta["chosen"],
               "use_by_default": meta["use_by_default"], "cross_validated": meta["cross_validated"],
               "hand_set": meta["hand_set"], "skipped": len(errors), "seconds": meta["seconds"]}
    if args.json:
        print_json(summary)
        return 0
    print(f"fitted on {meta['n_files']} files ({meta['n_fake']} fake, {meta['n_groups']} groups), "
          f"{len(errors)} skipped, in {meta['seconds']:.0f} s -> {out}")
    print(f"{'table':<28}{'AUC':>7}{'ECE':>7}{'Brier':>7}")
    for name, fig in ((f"fitted ({meta['chosen']}), cross-validated", meta["cross_validated"]),
                      ("hand-set", meta["hand_set"])):
        print(f"{name:<28}{fig['auc']:>7.3f}{fig['ece']:>7.3f}{fig['brier']:>7.3f}")
    print("default: " + ("the fitted table" if meta["use_by_default"] else "the hand-set table (the fit did not beat it)"))
    return 0
