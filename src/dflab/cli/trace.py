"""`dflab trace FILE [--json] [--top K]`: find the registered media a file derives from."""

from __future__ import annotations

import argparse

from dflab.cli.common import lab_for, print_json
from dflab.errors import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "trace",
        help="find the registered originals a file derives from",
        description="Hash the file like `dflab register` does and look the hashes up in the registry. Finds "
        "originals after re-encoding, resizing, cropping (70-90 % of the area), speed changes and cuts; for "
        "video it reports the matched time ranges [query start, query end, original start, original end] "
        "and the speed factor. Audio (and video whose frames match nothing) is traced by audio fingerprints that "
        "survive re-encoding, jump cuts and playback at 0.5-2x with or without pitch correction.",
    )
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--top", type=int, default=5, metavar="K", help="at most K matches (default 5)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="trace what decodes of a video or audio file that is cut short or damaged")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dflab.provenance.facade import trace

    if args.top < 1:
        raise UsageError("--top must be at least 1")
    with lab_for(args) as lab:
        result = trace(args.file, lab=lab, top=args.top).to_json()
    if args.json:
        print_json(result)
    else:
        print(format_trace(result))
    return 0


def format_trace(result: dict) -> str:
    matches = result["matches"]
    hashed = f"{result['frames']} frame(s) hashed"
    if "audio_quads" in result:
        hashed = (hashed + ", " if result["frames"] else "") + f"{result['audio_quads']} audio quads"
    head = f"{result['path']} ({result['media_type']}, {hashed})"
    if not matches:
        return f"{head}: no registered original within distance {result['threshold']}" + (
            " and no audio match" if "audio_quads" in result else "")  # fmt: skip
    lines = [f"{head}: {len(matches)} match(es), best first"]
    for rank, match in enumerate(matches, 1):
        tag = " identical bytes" if match["exact"] else ""
        if match.get("by") == "audio":
            lines.append(f"  {rank}. record {match['record']}  {match['path']}  ({match['media_type']}) audio score "
                         f"{match['score']} (quad anchors on one line){tag}")  # fmt: skip
        else:
            lines.append(
                f"  {rank}. record {match['record']}  {match['path']}  ({match['media_type']}) distance "
                f"{match['distance']}/256, {match['matched_frames']} frame(s) matched, best variant {match['variant']}{tag}"
            )
        if match.get("speed_factor") is not None:
            pitch = {True: " (pitch moved with it)", False: " (pitch kept)"}.get(match.get("pitch_follows_speed"), "")
            lines.append(f"     speed x{match['speed_factor']:.2f}{pitch}")
        for q0, q1, o0, o1 in match["time_ranges"]:
            lines.append(f"     query {q0:7.2f}-{q1:7.2f} s  <-  original {o0:7.2f}-{o1:7.2f} s")
        if match.get("ledger") is None:
            lines.append(f"     ledger record {match['record']} not readable")
    return "\n".join(lines)
