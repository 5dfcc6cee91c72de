"""What the face tracking rate (`dflab scan --face-fps`) buys and costs: whole-scan time and blink counts.

1. The bench clip of bench/scan_speed.py (a 10 s 30 fps 720p camera clip), scanned as a whole process with every
   detector at each rate, the rates interleaved run by run: median wall and CPU, and the ratio to the default.
2. The blink cue on every LivePortrait clip and face_recognition's short_hamilton_clip at every frame (no face
   rate), 15 and 10 frames a second: blinks found and the rate per minute it reports.

The face_manipulated finding's held-out figures at a rate come from `dflab train findings ... --face-fps RATE`
(docs/performance.md gives them). Run: PYTHONPATH=src .venv/bin/python bench/face_rate.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, shared_data, write_results  # noqa: E402
from scan_speed import make_clip, one_run  # noqa: E402

RATES = (15.0, 10.0)  # the default first: ratios are to it


def timings(runs: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip_720p30.mp4"
        make_clip(clip)
        measured: dict[float, list[dict]] = {rate: [] for rate in RATES}
        for _ in range(runs):
            for rate in RATES:
                measured[rate].append(one_run(clip, ("--face-fps", f"{rate:g}")))
    base = statistics.median(r["wall_s"] for r in measured[RATES[0]])
    rows = []
    for rate, got in measured.items():
        wall = statistics.median(r["wall_s"] for r in got)
        rows.append({"face_fps": rate, "median_wall_s": wall, "median_cpu_s": statistics.median(r["cpu_s"] for r in got),
                     "wall_vs_default": wall / base, "faces_stage_s": statistics.median(r["result"]["timings"]["faces"] for r in got),
                     "verdict": got[0]["result"]["verdict"], "score": got[0]["result"]["score"]})
    return rows


def blink_counts(data: Path) -> list[dict]:
    from dflab.config import SamplingPolicy
    from dflab.detect.scanner import Scanner

    clips = sorted((data / "liveportrait/assets/examples").glob("*/*.mp4"))
    clips.append(data / "face_recognition/examples/short_hamilton_clip.mp4")
    scanner = Scanner(["blink"])
    rows = []
    for clip in clips:
        row = {"clip": clip.name}
        for label, rate in (("every_frame", None), ("fps15", 15.0), ("fps10", 10.0)):
            evidence = scanner.scan(clip, policy=SamplingPolicy(face_rate_fps=rate)).evidence[0]
            blinks = evidence.details.get("blinks")
            row[f"{label}_blinks"] = None if blinks is None else len(blinks)
            row[f"{label}_per_min"] = evidence.details.get("blink_rate_per_min")
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = shared_data()
    load = os.getloadavg()[0]
    speed = timings(args.runs)
    print(f"whole-process scans of the bench clip, {args.runs} runs per rate, interleaved (load {load:.1f} before)")
    print_table(speed, ["face_fps", "median_wall_s", "median_cpu_s", "wall_vs_default", "faces_stage_s", "verdict"])
    blinks = blink_counts(data) if data is not None else []
    if blinks:
        print("\nblinks found by the blink cue (and its rate per minute) at each face rate")
        print_table(blinks, ["clip", "every_frame_blinks", "fps15_blinks", "fps10_blinks",
                             "every_frame_per_min", "fps15_per_min", "fps10_per_min"])
        same = sum(r["fps10_blinks"] == r["every_frame_blinks"] for r in blinks)
        print(f"\n10 fps finds as many blinks as every frame on {same} of {len(blinks)} clips "
              f"(15 fps: {sum(r['fps15_blinks'] == r['every_frame_blinks'] for r in blinks)})")
    write_results("face_rate", {"runs": args.runs, "load_average_1min_before": load, "speed": speed, "blinks": blinks})


if __name__ == "__main__":
    main()
