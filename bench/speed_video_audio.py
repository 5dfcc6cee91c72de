"""Playback speed of clips WITH their sound, through the whole speed cue: factor, direction, confidence.

    .venv/bin/python bench/speed_video_audio.py [--set DIR] [--name NAME]

Builds the audio-video speed test set (dflab.train.speed_av_testset: the LivePortrait driving clips with an audio
track, at their own size, <= 10 s; natural copies re-encoded, resized, converted to 25/30, 24 and 60 fps; copies
re-timed at an unchanged frame rate by ffmpeg `setpts` + `fps` with the sound stretched by `atempo`, pitch kept,
at 0.75x, 1.25x and 1.5x) into DIR unless it is there, and runs the scan's speed cue on every clip (decoded as the
scan decodes). Nothing is fitted here: the cue's constants come from dflab.shallow.speed_video /
rate_conversion / dflab.detect.cues.speed_fusion, chosen while looking at this set, the video speed test set
(bench/video_speed_accuracy.py) and natural conversions of every LivePortrait and FF++ original clip, so these
figures are not held out; bench/video_speed_accuracy.py scores the frames held out by source group.

A reading is confident when `speed_confidence` (the scan JSON's) is at least CONFIDENT. For re-timed clips:
changed (score >= 0.5), on the right side of 1, confident, confident and within 5 % of the truth, confident and
wrong. For natural clips: flagged as changed, confident with a factor more than 5 % from 1, the highest
confidence. `--name speed_video_audio_before` with the code before the change on PYTHONPATH wrote the "before"
JSON beside this one (speed_direction absent there: the factor's side of 1 stands in).

Before (commit 9b61ad5; 90 clips, 10 sources): 0.75x confident and within 5 % 7/10, confident and wrong 2
(d6 0.25x, d10 0.63x); 1.25x confident 2/10 (1 right, d10 1.21x within 5 %), factors 0.73, 0.88, 1.17, 1.40,
1.48 at low confidence; 1.5x confident and wrong 2 (d6 0.75x, d10 1.25x); natural clips confident and far from 1:
d9 re-encoded 1.50x (0.68), d10 at 24 fps 1.21x (0.78), d6 at 60 fps 0.25x (0.88: the false slow-down).
Each clip's speed finding verdict is judged on the cue's evidence alone (dflab.detect.findings.judge), and the 12
driving clips as published (whole, some over 10 s or silent) are scored beside the natural copies.
`speed_video_audio_before.json`: main before the round-fraction step test, the side-of-1 rule and the
speech-likeness gate of the sound; `speed_video_audio.json`: after (docs/speed.md).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, require_shared_data, write_results  # noqa: E402

CONFIDENT = 0.5
WITHIN = 0.05


def _direction(details: dict) -> str:
    if details.get("speed_direction"):
        return details["speed_direction"]
    factor = details.get("speed_factor") or 1.0
    return "natural" if factor == 1.0 else ("slowed" if factor < 1.0 else "sped_up")


def run_cue(root: Path, clips: list[dict]) -> None:
    """The speed detector on every clip, as the scan runs it, and the speed finding's verdict on its evidence;
    fills clip["reading"]."""
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.findings import judge
    from dflab.detect.registry import create_detector
    from dflab.media import load

    detector = create_detector("speed")
    for i, clip in enumerate(clips):
        media = load(root / clip["path"])
        started = time.perf_counter()
        evidence = detector.detect(AnalysedMedia(media))
        seconds = time.perf_counter() - started
        d = evidence.details
        finding = next(f for f in judge([evidence], []) if f.name == "speed_changed")
        clip["reading"] = {
            "score": round(float(evidence.score), 4), "factor": d.get("speed_factor") or 1.0,
            "confidence": d.get("speed_confidence") or 0.0, "direction": _direction(d),
            "factor_from": d.get("speed_factor_from"), "video_factor": d.get("video_factor"),
            "video_method": d.get("video_method"), "video_strong": d.get("video_strong"),
            "video_rate_ratio": d.get("video_rate_ratio"), "video_doubt": d.get("video_doubt"),
            "audio_p_changed": d.get("audio_p_changed"), "audio_factor": d.get("audio_factor_estimate"),
            "verdict": finding.verdict, "seconds": round(seconds, 2),
        }  # fmt: skip
        if i % 20 == 19:
            print(f"{i + 1}/{len(clips)} clips", file=sys.stderr)


def _side_agrees(reading: dict) -> bool:
    factor, direction = reading["factor"], reading["direction"]
    return {"slowed": factor < 1.0, "sped_up": factor > 1.0, "natural": factor == 1.0}[direction]


def _against_frames(reading: dict, strong_only: bool) -> bool:
    """Changed, and the reported factor on the other side of 1 from the frames' pattern (a 1.25x clip whose drops
    the frames show, reported at the sound's 0.73x)."""
    video = reading["video_factor"]
    if video is None or reading["score"] < 0.5 or (strong_only and not reading["video_strong"]):
        return False
    return (reading["factor"] < 1.0) != (video < 1.0)


def retimed_rows(clips: list[dict]) -> list[dict]:
    groups = defaultdict(list)
    for clip in clips:
        if clip["factor"] != 1.0:
            groups[clip["factor"]].append(clip)
    rows = []
    for factor, members in sorted(groups.items()):
        readings = [c["reading"] for c in members]
        changed = [r for r in readings if r["score"] >= 0.5 and r["verdict"] != "not_applicable"]
        right_side = [r for r in changed if (r["factor"] < 1.0) == (factor < 1.0)]
        confident = [r for r in readings if r["confidence"] >= CONFIDENT]
        close = [r for r in confident if abs(r["factor"] / factor - 1.0) <= WITHIN]
        errors = [abs(r["factor"] / factor - 1.0) for r in changed]
        manipulated = [r for r in readings if r["verdict"] == "manipulated"]
        rows.append({
            "factor": factor, "n": len(members), "changed": len(changed), "right side": len(right_side),
            "confident": len(confident), "confident within 5 %": len(close),
            "confident wrong": len(confident) - len(close),
            "manipulated within 5 %": sum(abs(r["factor"] / factor - 1.0) <= WITHIN for r in manipulated),
            "manipulated wrong": sum(abs(r["factor"] / factor - 1.0) > WITHIN for r in manipulated),
            "within 5 % (all)": sum(abs(r["factor"] / factor - 1.0) <= WITHIN for r in readings),
            "error median %": round(100.0 * float(np.median(errors)), 2) if errors else None,
            "reads": ", ".join(f"{c['source'][3:]} {c['reading']['factor']:.2f}@{c['reading']['confidence']:.2f}"
                               f" {c['reading']['verdict'][:5]}" for c in members),
        })  # fmt: skip
    return rows


def natural_rows(clips: list[dict]) -> list[dict]:
    groups = defaultdict(list)
    for clip in clips:
        if clip["factor"] == 1.0:
            groups[clip["method"]].append(clip)
    rows = []
    for method, members in sorted(groups.items()):
        readings = [c["reading"] for c in members]
        far = [c for c in members if c["reading"]["confidence"] >= CONFIDENT
               and abs(c["reading"]["factor"] - 1.0) > WITHIN]
        rows.append({
            "method": method, "n": len(members),
            "flagged": sum(r["score"] >= 0.5 and r["verdict"] != "not_applicable" for r in readings),
            "suspicious+": sum(r["verdict"] in ("suspicious", "manipulated") for r in readings),
            "not judged": sum(r["verdict"] == "not_applicable" for r in readings),
            "slowed": sum(r["direction"] == "slowed" for r in readings),
            "confident far from 1": len(far),
            "highest confidence": max(r["confidence"] for r in readings),
            "far": ", ".join(f"{c['source'][3:]} {c['reading']['factor']:.2f}@{c['reading']['confidence']:.2f}"
                             for c in far) or "-",
        })  # fmt: skip
    return rows


def main() -> int:
    from dflab.train.speed_av_testset import build_testset

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default=str(Path(tempfile.gettempdir()) / "dflab_speed_av_testset"))
    parser.add_argument("--name", default="speed_video_audio", help="results file name under bench/results/")
    args = parser.parse_args()
    data = require_shared_data()
    root = Path(args.set)
    manifest = root / "manifest.csv"
    if not manifest.exists():
        started = time.perf_counter()
        build_testset(root, data, progress=True)
        print(f"built the test set in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    with open(manifest, newline="") as handle:
        clips = [dict(row, factor=float(row["factor"])) for row in csv.DictReader(handle)]
    # the driving clips as published, whole (some over 10 s, some without sound): what a user scans
    driving = sorted((data / "liveportrait/assets/examples/driving").glob("d*.mp4"), key=lambda p: int(p.stem[1:]))
    clips += [{"path": str(p), "source": f"lp_{p.stem}", "method": "published", "factor": 1.0} for p in driving]
    run_cue(root, clips)

    retimed = retimed_rows(clips)
    print(f"\nRe-timed clips (frames repeated/dropped at an unchanged rate, sound by atempo); confident: "
          f"speed_confidence >= {CONFIDENT}:")
    print_table(retimed, ["factor", "n", "changed", "right side", "confident", "confident within 5 %",
                          "confident wrong", "manipulated within 5 %", "manipulated wrong", "within 5 % (all)",
                          "error median %"])
    for row in retimed:
        print(f"  {row['factor']}x: {row['reads']}")
    natural = natural_rows(clips)
    print("\nNatural clips (factor 1.0):")
    print_table(natural, ["method", "n", "flagged", "suspicious+", "not judged", "slowed", "confident far from 1",
                          "highest confidence", "far"])
    for clip in (c for c in clips if c["factor"] == 1.0 and c["reading"]["verdict"] != "authentic"):
        r = clip["reading"]
        print(f"  {clip['method']} {clip['source'][3:]}: {r['verdict']} {r['factor']:.2f}@{r['confidence']:.2f} "
              f"(frames {r['video_factor']}, sound {r['audio_factor']} p {r['audio_p_changed']})")
    inconsistent = [c["path"] for c in clips if not _side_agrees(c["reading"])]
    print(f"\ndirection disagreeing with the factor's side of 1: {len(inconsistent)}/{len(clips)}")
    against = {kind: [c["path"] for c in clips if _against_frames(c["reading"], kind == "strong")]
               for kind in ("strong", "any")}
    print(f"changed, with the factor on the other side of 1 from the frames' pattern: {len(against['any'])} "
          f"({len(against['strong'])} against a strong pattern)")
    seconds = [c["reading"]["seconds"] for c in clips]
    print(f"speed cue: median {np.median(seconds):.2f} s per clip (decode excluded)")
    write_results(args.name, {
        "set": str(root), "clips": len(clips), "confident_at": CONFIDENT, "retimed": retimed, "natural": natural,
        "direction_inconsistent": inconsistent, "factor_against_frames": against, "seconds_per_clip_median": float(np.median(seconds)),
        "per_clip": [{"path": c["path"], "method": c["method"], "true_factor": c["factor"], **c["reading"]}
                     for c in clips],
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
