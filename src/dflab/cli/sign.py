"""`dflab sign IN OUT [--synthetic] [--parent FILE ...]`: embed a C2PA manifest signed by the local CA."""

from __future__ import annotations

import argparse

from dflab.cli.common import print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sign",
        help="write a signed C2PA manifest (actions, digitalSourceType, soft binding, ledger record)",
        description="Copy IN to OUT with an embedded C2PA manifest signed by the key from `dflab keys init`. "
        "When the ledger is available, the signature is logged there first and the record is embedded.",
    )
    parser.add_argument("input", metavar="IN", help="media file to sign (JPEG, PNG, WebP, TIFF, GIF, AVIF, HEIC, MP4, MOV, WAV, MP3, ...)")
    parser.add_argument("output", metavar="OUT", help="signed copy to write (same format; must not exist)")
    parser.add_argument("--synthetic", action="store_true", help="generated media: digitalSourceType trainedAlgorithmicMedia")
    parser.add_argument("--parent", action="append", default=[], metavar="FILE", help="parent media (first: parentOf, others: componentOf)")
    parser.add_argument("--payload", metavar="HEX", help="watermark payload the media carries (default: detect it)")
    parser.add_argument("--no-ledger", action="store_true", help="do not log the signature in the ledger")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from dflab.lab import Lab
    from dflab.provenance.signing import sign_and_record

    with Lab.default() as lab:
        summary = sign_and_record(
            args.input, args.output, args.synthetic, parents=args.parent, payload_hex=args.payload,
            use_ledger=not args.no_ledger, lab=lab,
        )
    if args.json:
        print_json(summary)
        return 0
    kind = "generated (trainedAlgorithmicMedia)" if args.synthetic else "original (digitalCapture)"
    print(f"signed {summary['output']} as {kind}, manifest {summary['manifest_bytes']} bytes")
    if summary.get("ledger"):
        print(f"  ledger record {summary['ledger'].get('record')}")
    if summary.get("soft_binding"):
        print(f"  soft binding (watermark payload) {summary['soft_binding']}")
    return 0
