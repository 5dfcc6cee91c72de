"""`dflab verify FILE [--json]`: one answer from C2PA, watermark, registry and ledger."""

from __future__ import annotations

import argparse
from pathlib import Path

from dflab.cli.common import print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a file's provenance: C2PA manifest, watermark, registry matches, ledger proof",
        description="Exit 0 with the answer (also when the answer is 'tampered'); exit 2 when the file "
        "cannot be read (missing, not media, corrupt manifest).",
    )
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--trust", metavar="PEM", help="trust this CA certificate instead of the local one")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from dflab.errors import NotFound
    from dflab.provenance.verify import render_text, verify_file

    anchors = None
    if args.trust:
        pem = Path(args.trust)
        if not pem.is_file():
            raise NotFound(f"trust anchor {pem} does not exist")
        anchors = pem.read_bytes()
    result = verify_file(args.file, trust_anchors=anchors)
    if args.json:
        print_json(result)
    else:
        print(render_text(result))
    return 0
