"""`dflab compare SUSPECT [--original FILE] [--json]`: what was done to a copy of a registered original."""

from __future__ import annotations

import argparse
from pathlib import Path

from dflab.cli.common import lab_for, print_json
from dflab.errors import NotFound


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="align a suspect video or audio with its original: speed, removed/inserted pieces, changed frames",
        description="Align SUSPECT with the original it derives from (per-frame perceptual hashes, confirmed by "
        "the audio) and report the speed factor, the pieces removed from or inserted into the original (times on "
        "both timelines) and the frames whose content was changed. When either file has no video stream, the "
        "audio alone is aligned (spectral frames; speed with or without pitch correction, removed and inserted "
        "pieces). Without --original, the original is found with `dflab trace` in the registry (by its frames, or by "
        "its audio fingerprint for audio and for video whose frames match nothing) and read from its registered path.",
    )
    parser.add_argument("suspect", metavar="SUSPECT")
    parser.add_argument("--original", metavar="FILE",
                        help="the original video or audio (default: trace SUSPECT in the registry)")  # fmt: skip
    parser.add_argument("--allow-partial", action="store_true",
                        help="compare what decodes of a file that is cut short or damaged (refused otherwise)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.set_defaults(func=run)


def find_original(suspect: str, lab=None) -> tuple[Path, int]:
    """(path, record) of the best registered video or audio match of `suspect` (a registered still cannot be
    aligned in time)."""
    from dflab.provenance.facade import find_original as find

    return find(suspect, lab=lab)


def run(args: argparse.Namespace) -> int:
    from dflab.config import Limits
    from dflab.shallow.compare_original import compare

    if not Path(args.suspect).exists():
        raise NotFound(f"{args.suspect} does not exist")
    limits = Limits(allow_partial=args.allow_partial)
    if args.original:
        result = compare(args.suspect, args.original, limits=limits).to_json()  # nothing of the lab is needed
    else:
        with lab_for(args) as lab:
            result = compare(args.suspect, lab=lab, limits=limits).to_json()
    if args.json:
        print_json(result)
    else:
        print(format_comparison(result))
    return 0


def format_comparison(result: dict) -> str:
    head = f"{result['suspect']} vs {result['original']}" + (
        f" (record {result['record']})" if result.get("record") is not None else "")  # fmt: skip
    if not result.get("aligned"):
        return f"{head}: {result['summary']}"
    lines = [head, f"  {result['summary']}"]
    if result.get("speed_factor") is not None:
        lines.append(f"  speed x{result['speed_factor']:.3f}; {100 * result['matched_fraction']:.0f}% of the suspect matched")
    for seg in result["segments"]:
        audio = seg.get("audio")
        tail = f"  audio corr {audio['correlation']:.2f}" if audio else ""
        lines.append(f"  suspect {seg['suspect'][0]:7.2f}-{seg['suspect'][1]:7.2f} s  <-  original "
                     f"{seg['original'][0]:7.2f}-{seg['original'][1]:7.2f} s{tail}")  # fmt: skip
    for cut in result["removed"]:
        lines.append(f"  removed at suspect {cut['suspect_s']:.2f} s: original {cut['original'][0]:.2f}-"
                     f"{cut['original'][1]:.2f} s ({cut['duration_s']:.2f} s)")  # fmt: skip
    for ins in result["inserted"]:
        lines.append(f"  inserted at suspect {ins['suspect'][0]:.2f}-{ins['suspect'][1]:.2f} s ({ins['duration_s']:.2f} s)")
    for change in result.get("changed", []):  # audio-only comparisons do not judge content
        lines.append(f"  changed content at suspect {change['suspect'][0]:.2f}-{change['suspect'][1]:.2f} s "
                     f"(original {change['original'][0]:.2f}-{change['original'][1]:.2f} s), "
                     f"dissimilarity {change['max_dissimilarity']:.2f}")  # fmt: skip
    return "\n".join(lines)
