"""`dflab scan FILE... [--json] [--report DIR]`: explained deepfake detection for images, video and audio."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dflab.cli.common import error_text, print_json
from dflab.errors import DflabError, UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "scan",
        help="detect manipulated faces in images and videos, with the evidence",
        description="Scan files for signs of face or voice manipulation. Each file gets a probability of manipulation "
        "(0..1), a verdict (authentic / suspicious / manipulated) and the evidence behind it.",
        epilog="Exit code 0 when every file was scanned, 2 when any file could not be read.",
    )
    p.add_argument(
        "files", nargs="*", metavar="FILE", help="images (JPEG/PNG/WebP), videos (mp4/mov/webm/mkv), audio (wav/mp3/m4a/flac)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line per file on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p.add_argument("--report", metavar="DIR", help="write an HTML report (and its JSON) per file into DIR")
    p.add_argument("--detectors", metavar="A,B", help="comma-separated detector names (default: all)")
    p.add_argument("--list-detectors", action="store_true", help="list the registered detectors and exit")
    p.add_argument("--fps", type=float, metavar="RATE", help="analysis frame rate for long videos (default 10)")
    p.add_argument(
        "--all-frames-up-to", type=float, metavar="SEC", help="analyse every frame of clips up to SEC long (default 20)"
    )
    p.add_argument(
        "--face-fps", type=float, metavar="RATE",
        help="frames a second in which faces are tracked (default 15; more catches shorter blinks, fewer is faster)",
    )
    p.add_argument("--max-faces", type=int, default=4, help="faces tracked per frame (default 4)")
    p.add_argument(
        "--operating-point", metavar="POINT", default=None,
        help="false-alarm rates on real development media at which a finding turns manipulated and suspicious: "
        "strict (0.5%%, 1%%), default (1%%, 5%%), sensitive (5%%, 10%%), or two rates M,S such as 0.01,0.05",
    )
    p.add_argument(
        "--reference", metavar="VOICE", help="a recording of the expected speaker: adds speaker_match evidence"
    )
    p.add_argument(
        "--allow-partial", action="store_true",
        help="scan what decodes of a video or audio file that is cut short or damaged (refused otherwise); "
        "the JSON then says complete: false with the decoded and declared durations",
    )
    p.add_argument(
        "--ledger", action="store_true",
        help="test a watermark too damaged to decode against the payloads the lab's ledger issued (DFLAB_HOME)",
    )
    p.set_defaults(func=run)


def _watermark_candidates(args) -> tuple:
    """The lab's issued payloads for the watermark cue (`--ledger`), else none (blind decoding only)."""
    if not getattr(args, "ledger", False):
        return ()
    from dflab.lab import Lab
    from dflab.provenance.issued import lab_candidates

    with Lab.default() as lab:
        return tuple(lab_candidates(lab))


def _options(args):
    from dflab.config import Limits, SamplingPolicy
    from dflab.detect.scan import ScanOptions

    policy_args = {}
    if args.fps is not None:
        policy_args["rate_fps"] = args.fps
    if args.all_frames_up_to is not None:
        policy_args["all_frames_up_to_s"] = args.all_frames_up_to
    if args.face_fps is not None:
        policy_args["face_rate_fps"] = args.face_fps
    if args.max_faces < 1:
        raise UsageError("--max-faces must be at least 1")
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()] if args.detectors else None
    reference = Path(args.reference) if getattr(args, "reference", None) else None
    if reference is not None and not reference.is_file():
        raise UsageError(f"--reference {reference} is not a file")
    from dflab.detect.findings import OperatingPoint

    return ScanOptions(detectors=detectors, policy=SamplingPolicy(**policy_args), max_faces=args.max_faces,
                       reference_voice=reference, operating_point=OperatingPoint.parse(args.operating_point),
                       limits=Limits(allow_partial=args.allow_partial),
                       watermark_candidates=_watermark_candidates(args))  # fmt: skip


PROGRESS_DELAY_S = 2.0  # short scans finish before a bar would be worth drawing


def run(args: argparse.Namespace) -> int:
    from dflab.detect.registry import create_detector, list_detectors
    from dflab.detect.scanner import Scanner

    if args.list_detectors:
        for name in list_detectors():
            det = create_detector(name)
            print(f"{name:16s} {','.join(det.media_types)}")
        return 0
    if not args.files:
        raise UsageError("give at least one FILE to scan (or --list-detectors)")
    options = _options(args)
    scanner = Scanner(options.detectors, config=options)  # unknown names fail before any work is done
    report_dir = Path(args.report) if args.report else None
    if report_dir is not None:
        if report_dir.exists() and not report_dir.is_dir():
            raise UsageError(f"--report {report_dir} exists and is not a directory")
        report_dir.mkdir(parents=True, exist_ok=True)

    failures = 0
    report_names = _report_names(args.files)
    for path, report_name in zip(args.files, report_names):
        bar = _progress_bar(path) if _show_progress(args) else None
        callbacks = {}
        if bar is not None:
            callbacks = {"progress": lambda stage, bar=bar: bar.set_postfix_str(stage),
                         "frame_done": lambda bar=bar: bar.update(1)}
        try:
            result = scanner.scan(path, **callbacks)
        except DflabError as exc:
            failures += 1
            message = error_text(exc, args)
            message = message if str(path) in message else f"{path}: {message}"
            print(f"dflab scan: error: {message}", file=sys.stderr)
            if args.json:
                print_json({"path": str(path), "error": str(exc)})
            continue
        finally:
            if bar is not None:
                bar.close()
        report_path = _write_report(result, report_dir, report_name) if report_dir else None
        if args.json:
            print_json({**result.to_json(), **({"report": str(report_path)} if report_path else {})})
        else:
            _print_human(result, report_path)
    return 2 if failures else 0


def _show_progress(args) -> bool:
    """A bar only for a person watching: stderr is a terminal, not --quiet, and with --json only when
    stdout is a terminal too (a script reading the JSON wants a clean stderr)."""
    if args.quiet or not sys.stderr.isatty():
        return False
    return not args.json or sys.stdout.isatty()


def _progress_bar(path: str):
    from tqdm import tqdm

    return tqdm(total=None, desc=Path(path).name[:30], unit="frame", file=sys.stderr, leave=False,
                delay=PROGRESS_DELAY_S)


def _report_names(files: list[str]) -> list[str]:
    from dflab.report.names import unique_stems

    return unique_stems(files)  # a/x.png and b/x.png must not overwrite each other's report


def _write_report(result, report_dir: Path, name: str) -> Path:
    from dflab.report.scan_report import write_scan_report

    return write_scan_report(result, report_dir, name)


def _print_human(result, report_path: Path | None) -> None:
    print(f"{result.path}: {result.verdict.upper()}  score {result.score:.2f}  ({result.media_type})")
    print(f"  {result.summary}")
    if result.complete is False:
        print(f"  PARTIAL: {result.decoded_duration_s} s decoded of the {result.declared_duration_s} s it declares")
    print("  findings:")
    for finding in result.findings:
        marker = "!" if finding.verdict in ("suspicious", "manipulated") else " "
        score = "  -  " if finding.score is None else f"{finding.score:.2f} "
        print(f"  {marker} {finding.name:19s} {score} {finding.verdict:14s} {finding.summary}")
    for face in result.faces:
        a, b = face.time_range
        print(f"  face #{face.track_id}: {face.verdict} {face.score:.2f}, frames {face.first_frame}-{face.last_frame} ({a:.1f}-{b:.1f} s)")
    if result.media_type != "audio" and not result.faces:
        print("  no face found: only file-level cues were run")
    print("  evidence:")
    for ev in sorted(result.evidence, key=lambda e: -abs(e.score - 0.5) * e.confidence):
        marker = "!" if ev.score >= 0.6 and ev.confidence > 0 else " "
        print(f"  {marker} {ev.name:15s} {ev.score:.2f} (conf {ev.confidence:.2f})  {ev.summary}")
    if report_path:
        print(f"  report: {report_path}")
