"""`dflab eval MANIFEST.csv`: scan every file of a labelled manifest and report AUC, EER, AP, accuracy, ECE."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dflab.cli.progress import add_quiet_option, progress_wanted


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="measure detection quality on a labelled manifest (AUC, EER, AP, accuracy, ECE)",
        description="Scan every file listed in MANIFEST.csv (header with at least path,label; label real|fake; "
        "paths relative to the CSV) and print ROC AUC with a 95% bootstrap interval, EER, average precision, "
        "accuracy at the verdict threshold and expected calibration error, overall and per `method` column value. "
        "Rows that cannot be scanned are listed as errors and left out of the figures.",
    )
    p.add_argument("manifest", metavar="MANIFEST.csv", help="CSV with columns path,label[,method,...]")
    p.add_argument("--json", action="store_true", help="print one JSON object (overall figures at top level)")
    p.add_argument("--report", metavar="DIR", help="write eval.html (ROC, reliability, histograms) and eval.json")
    p.add_argument(
        "--baseline",
        metavar="NAME",
        nargs="+",
        action="extend",
        default=[],
        help="also score with these registered baselines (put after the manifest)",
    )
    p.add_argument("--save-scores", metavar="FILE.csv", help="write every row's score to a new CSV")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap replicates (default 1000)")
    p.add_argument("--overwrite", action="store_true", help="replace existing report / scores files")
    add_quiet_option(p)
    p.set_defaults(func=run)


def _default_scanner():
    """The real scanner, imported only when needed (it pulls in the heavy media/face stack)."""
    from dflab.errors import Unsupported

    try:
        from dflab.detect.scan import scan_file
    except ModuleNotFoundError as exc:
        if exc.name == "dflab.detect.scan":
            raise Unsupported("the scanner (dflab.detect.scan) is not available in this installation") from None
        raise
    return scan_file


def _warn(message: str) -> None:
    print(f"dflab eval: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from dflab.cli.common import new_output_path, print_json
    from dflab.errors import UsageError
    from dflab.eval.baselines import get_baseline
    from dflab.eval.manifest import missing_files, read_manifest
    from dflab.eval.runner import run_eval

    if args.bootstrap < 0:
        raise UsageError("--bootstrap must be >= 0")
    manifest = read_manifest(args.manifest)
    for name in args.baseline:
        scorer = get_baseline(name)  # unknown names fail now, not after a long scan
        if callable(getattr(scorer, "ready", None)):
            scorer.ready()  # so do baselines whose weights are missing (UsageError)
    # Check every output before scanning, so a long run never ends in "cannot write".
    scores_path = new_output_path(args.save_scores, overwrite=args.overwrite) if args.save_scores else None
    if args.report:
        from dflab.report.eval_report import prepare_report_dir

        prepare_report_dir(args.report, overwrite=args.overwrite)
    missing = missing_files(manifest)
    if missing:
        first = ", ".join(f"line {r.line}: {r.path}" for r in missing[:3])
        _warn(f"warning: {len(missing)} of {len(manifest.rows)} listed files do not exist ({first}"
              f"{', ...' if len(missing) > 3 else ''}); they are recorded as errors")
    scan = _default_scanner()
    progress = progress_wanted(args)
    result = run_eval(manifest, scan, baselines=args.baseline, progress=progress, n_boot=args.bootstrap)

    report_path = None
    if args.report:
        from dflab.report.eval_report import write_eval_report

        report_path = write_eval_report(result, args.report, overwrite=True)  # checked above
    if scores_path is not None:
        from dflab.eval.scores_csv import save_scores

        save_scores(result, scores_path)

    if args.json:
        print_json(result.to_json())
    else:
        from dflab.eval.summary import text_table

        print(f"{Path(args.manifest)}: {len(result.rows)} rows")
        print(text_table(result))
        for r in result.errors[:10]:
            print(f"  error, line {r.row.line} {r.row.path}: {r.error}")
        if len(result.errors) > 10:
            print(f"  ... and {len(result.errors) - 10} more errors")
        if report_path is not None:
            print(f"report: {report_path}")
        if scores_path is not None:
            print(f"scores: {scores_path}")
    if result.ours.overall.n == 0:
        _warn("error: no row could be scored")
        return 1
    return 0
