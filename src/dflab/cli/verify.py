"""`dflab verify FILE [--json]`: one answer from C2PA, watermark, registry and ledger."""

from __future__ import annotations

import argparse

from dflab.cli.common import print_json

EXIT_CODES = """exit codes:
  0  nothing is wrong (also when the file simply has no provenance: unsigned, unmarked, unregistered)
  1  something is wrong: the C2PA manifest does not validate (tampered), a ledger record named by the
     manifest, the watermark or the registry is missing or its inclusion proof fails, or the manifest and the
     watermark name different ledger records (listed under "problems" in the JSON)
  2  bad input: the file is missing, empty, not media, cut short or damaged (docs/validation.md; a file with a
     readable manifest gets that manifest's answer instead), or its manifest cannot be parsed at all; or
     --trust is not a PEM certificate"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a file's provenance: C2PA manifest, watermark, registry matches, ledger proof",
        description="Read the file's C2PA manifest (with the local CA as trust anchor), look for the dflab "
        "watermark, trace it in the registry and check the ledger records these name against the latest signed "
        "checkpoint.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--trust", metavar="PEM", help="trust this CA certificate instead of the local one")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from dflab.lab import Lab
    from dflab.provenance.facade import verify
    from dflab.provenance.keys import read_trust_file
    from dflab.provenance.verify import render_text

    anchors = read_trust_file(args.trust) if args.trust else None  # a key or garbage names --trust, not FILE
    with Lab.default() as lab:
        result = verify(args.file, lab=lab, trust_anchors=anchors)
    if args.json:
        print_json(result.to_json())
    else:
        print(render_text(result.to_json()))
    return result.exit_code
