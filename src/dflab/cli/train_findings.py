"""`dflab train findings` (also `dflab train fusion`): fit one finding's calibrated combiner on labelled media.

    dflab train findings MANIFEST.csv... --finding face_manipulated --media-type video --out TABLE.json

Registered as a kind of the `train` verb group (dflab/cli/train.py calls `register`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dflab.cli.progress import add_quiet_option, progress_bar
from dflab.detect.findings import KIND_BY_NAME


def register(kinds) -> None:
    p = kinds.add_parser(
        "findings",
        aliases=["fusion"],
        help="a finding's calibrated combiner: its member detectors fused, judged by grouped cross-validation",
        description="Scan every file of the manifests (path,label[,method,group]) with the scanner (or only "
        "--detectors), keep each file's evidence in a cache (a rerun only refits), and fit the finding's "
        "combiner, leave-one-group-out: an L2 logistic regression over its members' confidence x logit(score), "
        "against 'any' (each member calibrated on its own, the finding the highest of their probabilities). "
        "The one that flags more held-out fakes at the operating points ships ('any' on a tie). The table stores the real files' held-out "
        "probabilities, from which the operating points (1 % and 5 % false alarms) are read. Ship it as "
        "src/dflab/detect/findings/<finding>[.<media type>].json.",
    )
    p.add_argument("manifests", nargs="+", metavar="MANIFEST.csv",
                   help="labelled files; a `group` column keeps one footage or person together")
    p.add_argument("--finding", required=True, choices=sorted(KIND_BY_NAME), help="which finding to fit")
    p.add_argument("--media-type", choices=["image", "video", "audio"], help="fit on files of this type only")
    p.add_argument("--detectors", metavar="A,B", help="scan with these detectors only (default: all)")
    p.add_argument("--cache", metavar="DIR", help="scan-record cache (default: .scan_cache beside the first manifest)")
    p.add_argument("--scanner-version", metavar="FINGERPRINT",
                   help="fit on the records an earlier scanner version left in --cache (its fingerprint, the part "
                   "of a cached record's name after the file hash); nothing is scanned, a file missing there is skipped")
    p.add_argument("--face-fps", type=float, metavar="RATE",
                   help="scan with faces tracked in RATE frames a second (as `dflab scan --face-fps`; default 15)")
    p.add_argument("--l2", type=float, default=1.0, help="L2 penalty of the logistic fit (default 1.0)")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the table (JSON)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print the held-out figures as one JSON object")
    add_quiet_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dflab.atomic import write_text_atomic
    from dflab.cli.common import new_output_path, print_json
    from dflab.config import SamplingPolicy
    from dflab.errors import UsageError
    from dflab.eval.scan_records import scan_manifest
    from dflab.train.findings_fit import fit_finding

    if not args.l2 > 0:
        raise UsageError("--l2 must be > 0")
    out = new_output_path(args.out, overwrite=args.overwrite)
    cache = Path(args.cache) if args.cache else Path(args.manifests[0]).resolve().parent / ".scan_cache"
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()] if args.detectors else None
    policy = SamplingPolicy(face_rate_fps=args.face_fps) if args.face_fps is not None else None
    started = time.perf_counter()
    records, errors = [], []
    for manifest in args.manifests:
        bar = progress_bar(args, desc=Path(manifest).name, unit="file")

        def progress(done: int, total: int, path: str, bar=bar) -> None:
            bar.total = total
            bar.update(done - bar.n)

        found, failed = scan_manifest(manifest, cache, progress=progress, detectors=detectors,
                                      fingerprint=args.scanner_version, policy=policy)
        bar.close()
        records += found
        errors += failed
    for err in errors:
        print(f"skipped {err}", file=sys.stderr)
    table = fit_finding(records, args.finding, args.l2, args.media_type)
    table["fitted_on"] = ", ".join(Path(m).name for m in args.manifests)
    table["command"] = (f"dflab train findings {' '.join(Path(m).name for m in args.manifests)} --finding "
                        f"{args.finding}" + (f" --media-type {args.media_type}" if args.media_type else "")
                        + (f" --detectors {args.detectors}" if args.detectors else "")
                        + (f" --scanner-version {args.scanner_version}" if args.scanner_version else "")
                        + (f" --face-fps {args.face_fps:g}" if args.face_fps is not None else "")
                        + f" --out {out.name}")
    table["seconds"] = round(time.perf_counter() - started, 1)
    write_text_atomic(out, json.dumps(table, indent=1) + "\n")
    held = table["held_out"]
    summary = {"out": str(out), "finding": args.finding, "n_real": held["n_real"], "n_fake": held["n_fake"],
               "chosen": held["chosen"], "held_out": {k: held[k] for k in ("auc", "eer", "ece", "brier")},
               "best_member": held["best_member"], "best_member_auc": held["best_member_auc"],
               "best_member_ece": held["best_member_ece"], "operating_points": table["operating_points"],
               "skipped": len(errors), "seconds": table["seconds"]}
    if args.json:
        print_json(summary)
        return 0
    print(f"{args.finding}: fitted on {held['n_real']} real and {held['n_fake']} fake files ({held['n_groups']} groups), "
          f"{len(errors)} skipped, in {table['seconds']:.0f} s -> {out}")
    print(f"{'held out':<30}{'AUC':>7}{'EER':>7}{'ECE':>7}  fakes/reals flagged at 1 %, at 5 %")
    rows = [("fused", held["fused"])] + [(f"{m} alone", f) for m, f in held["members"].items()]
    if "any" in held:
        rows.append((f"any ({'+'.join(held['any']['members'])})", held["any"]))
    for name, fig in rows:
        mark = " <- shipped" if name.split(" ")[0] == held["chosen"] else ""
        got = fig.get("flagged_at_operating_points") or {}
        rates = "  ".join(f"{got[k]['fakes']:.3f}/{got[k]['reals']:.3f}" for k in ("manipulated", "suspicious")
                          if k in got)
        print(f"{name:<30}{fig['auc']:>7.3f}{fig['eer']:>7.3f}{fig['ece']:>7.3f}  {rates}{mark}")
    print(f"operating points: manipulated at p >= {table['operating_points']['manipulated']:.3f} (1 % of reals), "
          f"suspicious at p >= {table['operating_points']['suspicious']:.3f} (5 %)")
    return 0
