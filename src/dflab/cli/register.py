"""`dflab register FILE... [--json]`: hash media, append a ledger record, index the hashes for `dflab trace`."""

from __future__ import annotations

import argparse
import sys

from dflab.cli.common import print_json
from dflab.cli.progress import add_quiet_option, progress_wanted


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "register",
        help="record media in the ledger and the perceptual-hash registry",
        description="Compute PDQ hashes (per frame at a fixed rate for video, plus centre crops) and audio "
        "fingerprints (audio files and soundtracks), append a 'register' record to the ledger and index the hashes so `dflab trace` can find copies later. "
        "The ledger record and the registry rows are written in one transaction (both or neither). "
        "Registering identical bytes again returns the existing record.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="images, videos or audio files to register")
    parser.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    add_quiet_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dflab.lab import Lab
    from dflab.provenance.facade import register as register_file

    progress = _progress(args.files, disable=not progress_wanted(args))
    with Lab.default() as lab:
        for path in progress:
            result = register_file(path, lab=lab)
            if args.json:
                print_json(result.to_json())
            else:
                again = " (already registered)" if result.existing else ""
                audio = f", {result.audio_hashes} audio hashes" if result.audio_hashes else ""
                print(f"{path}: record {result.record}, {result.media_type}, {result.hashes} hashes{audio}{again}")
    return 0


def _progress(items, disable: bool):
    if disable or len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="register", unit="file", file=sys.stderr)
