"""`dflab batch INPUT... --out RESULTS.jsonl [--engine local|ray] [--ray-address ADDR] [--register] [--workers N]`:
scan many files, one JSON line each, resumable. See dflab/scale/ and docs/scale-out.md."""

from __future__ import annotations

import argparse
import sys

from dflab.cli.common import print_json
from dflab.cli.progress import add_quiet_option, progress_wanted


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "batch",
        help="scan many files (directories, manifests) into a JSON-lines file, locally or on a Ray cluster",
        description="Scan every file of the INPUTs (files, directories walked for media, manifest CSVs with a "
        "'path' column) and append one JSON line per file to RESULTS.jsonl: the file's `dflab scan --json` "
        "document, or {path, error} when it cannot be scanned (the batch goes on). Files already in "
        "RESULTS.jsonl are skipped, so an interrupted batch resumes where it stopped.",
        epilog="Exit code 0 when every file was scanned, 2 when any file could not be (its line says why) or for bad usage.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="media files, directories or manifest CSVs")
    p.add_argument("--out", required=True, metavar="RESULTS.jsonl", help="results file (appended to, resumable)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local processes (default) or Ray Data with an actor pool")  # fmt: skip
    p.add_argument("--ray-address", metavar="ADDR", help="join a running Ray cluster (e.g. HEAD:6379); default: "
                   "a private local Ray instance")  # fmt: skip
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="scanner processes (local) or actors (ray), each loading the models once (default 1)")  # fmt: skip
    p.add_argument("--register", action="store_true",
                   help="also register each scanned file in the lab's ledger and registry (adds 'registered')")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print a summary object on stdout at the end")
    add_quiet_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dflab.scale.batch import run_batch

    summary = run_batch(args.inputs, args.out, engine=args.engine, workers=args.workers,
                        ray_address=args.ray_address, register=args.register,
                        progress=progress_wanted(args))  # fmt: skip
    if args.json:
        print_json(summary.to_json())
    else:
        print(f"{summary.scanned} files scanned ({summary.errors} could not be), {summary.skipped} already in "
              f"{args.out}", file=sys.stderr)  # fmt: skip
    return 2 if summary.errors else 0
