"""`dflab watermark embed|detect`: the invisible, robust dflab-v1 watermark (64-bit payload).

    dflab watermark embed IN OUT --payload HEX [--psnr DB] [--quality Q] [--crf N] [--overwrite] [--json]
    dflab watermark detect IN [--no-ledger] [--json]

Images keep their format from OUT's extension (.png, .jpg, .webp); videos are re-encoded as H.264 with the
audio copied unchanged. `detect --json` prints one object with detected, payload (hex or null), confidence,
bit_errors_corrected, media_type and the sync statistics, and `method` ("blind": decoded from the picture
alone; "informed": matched against the payloads the lab's ledger issued; null: nothing found). When blind
decoding fails, the newest disclosed records of the lab's ledger are tested (provenance/watermark/informed.py)
and `informed` says how: candidates tested, z against its threshold, the false-match odds, the record that
matched best and whether it could be told from its neighbours (`identified`); --no-ledger skips it. Exit code
0 in both detect outcomes (a missing mark is an answer, not an error); 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "watermark",
        help="embed or detect the invisible dflab watermark",
        description="The dflab-v1 invisible watermark: 64 payload bits that survive JPEG, rescaling, cropping and "
        "H.264 re-encoding.",
    )
    verbs = parser.add_subparsers(dest="watermark_command", metavar="VERB")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    p = verbs.add_parser("embed", help="write a watermarked copy of an image or video")
    p.add_argument("input", metavar="IN", help="image (JPEG/PNG/WebP) or video")
    p.add_argument("output", metavar="OUT", help="output path (must not exist unless --overwrite)")
    p.add_argument("--payload", required=True, metavar="HEX", help="64-bit payload as 16 hex digits")
    p.add_argument("--psnr", type=float, default=40.75, metavar="DB", help="distortion budget in dB (default 40.75)")
    p.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality of image output (95)")
    p.add_argument("--crf", type=int, default=18, metavar="N", help="H.264 CRF of video output (default 18)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_embed)

    p = verbs.add_parser("detect", help="look for the watermark and print its payload")
    p.add_argument("input", metavar="IN", help="image or video")
    p.add_argument("--max-frames", type=int, default=90, metavar="N", help="video frames averaged (default 90)")
    p.add_argument("--allow-partial", action="store_true",
                   help="look in what decodes of a video that is cut short or damaged (refused otherwise)")
    p.add_argument("--no-ledger", action="store_true",
                   help="blind decoding only: do not test the payloads the lab's ledger issued")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_detect)


def cmd_embed(args: argparse.Namespace) -> int:
    from dflab.cli.common import new_output_path, print_json
    from dflab.errors import UsageError
    from dflab.provenance.watermark import EmbedConfig, embed_file, parse_payload_hex

    payload = parse_payload_hex(args.payload)
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality must be within 1..100, got {args.quality}")
    if not 0 <= args.crf <= 51:
        raise UsageError(f"--crf must be within 0..51, got {args.crf}")
    out = new_output_path(args.output, overwrite=args.overwrite)
    show_progress = not args.json and sys.stderr.isatty()
    summary = embed_file(
        args.input, out, payload, EmbedConfig(target_psnr=args.psnr), overwrite=args.overwrite,
        jpeg_quality=args.quality, crf=args.crf, progress=show_progress,
    )  # fmt: skip
    if args.json:
        print_json(summary)
    else:
        extra = f", PSNR {summary['psnr_db']} dB" if "psnr_db" in summary else f", {summary.get('frames')} frames"
        print(f"{summary['output']}: {summary['media_type']} marked with payload {summary['payload']}{extra}")
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from dflab.cli.common import print_json
    from dflab.errors import UsageError
    from dflab.provenance.watermark.lineage import file_lineage

    if args.max_frames < 1:
        raise UsageError(f"--max-frames must be at least 1, got {args.max_frames}")
    from dflab.config import Limits

    limits = Limits(allow_partial=args.allow_partial)
    if args.no_ledger:
        lineage = file_lineage(args.input, max_frames=args.max_frames, limits=limits)
    else:
        from dflab.lab import Lab
        from dflab.provenance.issued import lab_lineage
        from dflab.provenance.watermark.files import media_type_of

        media_type_of(Path(args.input), limits, decode=False)  # bad input fails before the lab is opened
        with Lab.default() as lab:
            lineage = lab_lineage(args.input, lab, max_frames=args.max_frames, limits=limits)
    result = lineage.newest  # media made from dflab media carries one mark per generation; the newest names it
    method, informed = lineage.method, lineage.informed_json()
    if args.json:
        print_json({"path": args.input, **result.to_json(), "method": method, "informed": informed,
                    "lineage": lineage.to_json()})  # fmt: skip
    elif result.detected:
        older = [m["payload"] for m in lineage.to_json()[:-1]]
        how = (f"matched against {informed['candidates_tested']} issued payloads, z {informed['informed_z']}"
               if method == "informed" else f"{result.bit_errors_corrected} coded-bit errors corrected")  # fmt: skip
        print(
            f"{args.input}: watermark found, payload {result.payload_hex} (confidence {result.confidence:.3f}, {how})"
            + (f"; older marks of earlier generations: {', '.join(older)}" if older else "")
        )
    elif informed is not None and informed["present"]:
        print(f"{args.input}: a dflab watermark of this lab is present but cannot be decoded (informed z "
              f"{informed['informed_z']} >= {informed['informed_threshold_z']} over {informed['candidates_tested']} "
              f"issued payloads, false-match odds {informed['false_match_odds']:.1g}); best record "
              f"{informed['best_record']}, not told apart from record {informed['runner_up_record']} "
              f"(misattribution odds {informed['misattribution_odds']:.2g})")  # fmt: skip
    else:
        tested = f", {informed['candidates_tested']} issued payloads tested" if informed else ""
        print(f"{args.input}: no dflab watermark found (confidence {result.confidence:.3f}{tested})")
    return 0

