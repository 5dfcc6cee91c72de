"""Audio-only `dflab compare` on the speed test set: factor error and jump cuts found against the original clip.

    nice -n 10 .venv/bin/python bench/compare_audio.py [/tmp/dflab_speed_testset/manifest.csv] [--workers 2]

The set comes from `python -m dflab.train.speed_testset OUT` (not rebuilt here). Every clip that is not the
natural clip itself (stretch, atempo, resample at 0.5-2.0x; aac, mp3 and cut at 1.0x) is compared with
`<speaker>_b<i>_original_1.00.wav` of the same base by dflab.shallow.compare.compare_files, as the CLI does.
A clip at factor f covers source seconds [0, 10 f] of its base, the original [0, 10]: slowed clips lie wholly in
the original, of a sped-up clip only the first 10 / f s does.

Reported per method and factor: median |estimate / true - 1| and the share within 5 %; for the cut clips the
true cuts (re-drawn from the test set's seeds, dflab.train.speed_testset.jump_cuts) whose removed piece lies
inside the original clip, and how many were found (a removed piece within CUT_TOL_S of the true suspect time and
CUT_DUR_TOL_S of its length), also counted over the cuts with CLEAR_S of uncut audio inside the original on
both sides (shorter pieces are too short for the 0.5 s patches). Removed or inserted pieces reported on clips
that have none are false edits (on sped-up clips they come from the part of the suspect that runs past the
original clip). Also: whether the pitch handling (kept, or moved with the speed) was told right.
Writes bench/results/compare_audio.json.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import zlib
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from _common import print_table, write_results

DEFAULT_MANIFEST = Path("/tmp/dflab_speed_testset/manifest.csv")
CUT_TOL_S = 0.3
CUT_DUR_TOL_S = 0.15
CLIP_S = 10.0
CLEAR_S = 0.6  # suspect seconds of uncut audio inside the original on each side of a cut


def true_cuts(speaker: str, base: int) -> list[dict]:
    """The cuts jump_cuts made for this base: suspect time and the removed original range (seconds).

    Re-draws the same random numbers (seed crc32("speaker/base")) in the same order as the builder; the 10 ms
    crossfades shift later joins by at most 10 ms, well inside the tolerance."""
    from dflab.train.speed_testset import CUT_RANGE_S, CUTS_PER_CLIP

    rng = np.random.default_rng(zlib.crc32(f"{speaker}/{base}".encode()))
    lengths = rng.uniform(*CUT_RANGE_S, CUTS_PER_CLIP)
    edges = np.linspace(0.5, CLIP_S - 0.5, CUTS_PER_CLIP + 1)
    points = [rng.uniform(a, b) for a, b in itertools.pairwise(edges)]
    cuts, removed_before = [], 0.0
    for point, length in zip(points, lengths):
        start = point + removed_before
        cuts.append({"suspect_s": float(point), "original": [float(start), float(start + length)],
                     "duration_s": float(length)})  # fmt: skip
        removed_before += length
    return cuts


def run_one(task: tuple[str, str]) -> dict:
    from dflab.errors import DflabError
    from dflab.shallow.compare import compare_files

    suspect, original = task
    started = time.perf_counter()
    try:
        result = compare_files(suspect, original)
    except DflabError as exc:  # bad input is a finding to record, not a reason to stop
        return {"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - started}
    result["seconds"] = time.perf_counter() - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("manifest", nargs="?", default=str(DEFAULT_MANIFEST))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--methods", default="", help="comma-separated methods to run (default: all); a partial "
                        "run writes bench/results/compare_audio_partial.json")  # fmt: skip
    args = parser.parse_args()
    manifest = Path(args.manifest)
    if not manifest.is_file():
        sys.exit(f"{manifest} not found: build it with python -m dflab.train.speed_testset OUT")
    root = manifest.parent
    rows = list(csv.DictReader(manifest.open()))
    cases = []
    for row in rows:
        if row["method"] == "original" or (args.methods and row["method"] not in args.methods.split(",")):
            continue
        name = Path(row["path"]).name
        base = int(name.split("_b")[-1].split("_")[0])
        original = root / row["speaker"] / f"{row['speaker']}_b{base}_original_1.00.wav"
        cases.append({**row, "base": base, "suspect": str(root / row["path"]), "original_path": str(original)})
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(run_one, [(c["suspect"], c["original_path"]) for c in cases], chunksize=4))
    wall = time.perf_counter() - started

    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    per_clip, errors = [], []
    cut_true = cut_found = cut_outside = cut_clear = cut_clear_found = 0
    false_edit_clips = 0
    for case, result in zip(cases, results):
        factor = float(case["factor"])
        if "error" in result:
            errors.append({"path": case["path"], "error": result["error"]})
        est = result.get("speed_factor") if result.get("aligned") else None
        err = abs(est / factor - 1.0) if est else float("inf")
        groups[(case["method"], case["factor"])].append(err)
        clip = {"path": case["path"], "method": case["method"], "factor": factor, "estimate": est,
                "error": None if est is None else round(err, 4), "seconds": round(result["seconds"], 3),
                "removed": result.get("removed", []), "inserted": result.get("inserted", []),
                "pitch_follows_speed": result.get("pitch_follows_speed")}  # fmt: skip
        if case["method"] == "cut":
            truth = true_cuts(case["speaker"], case["base"])
            findable = [c for c in truth if c["original"][1] <= CLIP_S - 0.25]
            cut_outside += len(truth) - len(findable)
            found = [c for c in findable if any(abs(r["suspect_s"] - c["suspect_s"]) <= CUT_TOL_S
                                                and abs(r["duration_s"] - c["duration_s"]) <= CUT_DUR_TOL_S
                                                for r in clip["removed"])]  # fmt: skip
            cut_true += len(findable)
            cut_found += len(found)
            # a cut can only be placed between two pieces that are each long enough for the 0.5 s patches
            times = [0.0] + [c["suspect_s"] for c in truth] + [float("inf")]
            clear = [c for k, c in enumerate(truth, start=1) if c in findable and times[k] - times[k - 1] >= CLEAR_S
                     and min(times[k + 1] - times[k], CLIP_S - c["original"][1]) >= CLEAR_S]  # fmt: skip
            cut_clear += len(clear)
            cut_clear_found += sum(1 for c in clear if c in found)
            clip["true_cuts"], clip["cuts_found"] = findable, len(found)
            clip["false_removed"] = len(clip["removed"]) - len(found)
        elif (clip["removed"] or clip["inserted"]) and factor <= 1.0:
            # only slowed or unchanged clips lie wholly inside the original: a reported edit there is false
            false_edit_clips += 1
        per_clip.append(clip)

    table = []
    for (method, factor), errs in sorted(groups.items()):
        errs_arr = np.array(errs)
        table.append({"method": method, "factor": factor, "clips": len(errs),
                      "median_err": float(np.median(errs_arr)), "within_5pct": float(np.mean(errs_arr <= 0.05))})  # fmt: skip
    everything = np.array([e for errs in groups.values() for e in errs])
    changed = np.array([e for (m, _), errs in groups.items() if m in ("stretch", "atempo", "resample") for e in errs])
    # pitch handling is reported for changed clips only (at 1.0x there is nothing to tell)
    pitch = [c["pitch_follows_speed"] == (c["method"] == "resample") for c in per_clip
             if c["method"] in ("stretch", "atempo", "resample")]  # fmt: skip
    sped_up = [c for c in per_clip if c["factor"] > 1.0]
    total = {"clips": len(everything), "median_err": float(np.median(everything)),
             "p95_err": float(np.percentile(everything, 95)), "max_err": float(np.max(everything)),
             "pitch_handling_correct": float(np.mean(pitch)),
             "sped_up_clips_with_an_edit_reported": f"{sum(1 for c in sped_up if c['removed'] or c['inserted'])}"
                                                    f" of {len(sped_up)}",
             "within_5pct": float(np.mean(everything <= 0.05)),
             "speed_changed_within_5pct": float(np.mean(changed <= 0.05)),
             "cuts_inside_original": cut_true, "cuts_found": cut_found, "cuts_beyond_original": cut_outside,
             f"cuts_with_{CLEAR_S}s_on_both_sides": cut_clear, "of_those_found": cut_clear_found,
             "false_removed_on_cut_clips": int(sum(c.get("false_removed", 0) for c in per_clip)),
             "clips_at_or_below_1x_with_false_edit": false_edit_clips,
             "errors": len(errors), "wall_s": round(wall, 1), "workers": args.workers,
             "seconds_per_clip_median": float(np.median([c["seconds"] for c in per_clip])),
             "load_average": os.getloadavg()}  # fmt: skip
    # per clip only what is worth reading: cut clips, edits reported, errors over 1 %
    notable = [c for c in per_clip if c["method"] == "cut" or c["removed"] or c["inserted"]
               or c["error"] is None or c["error"] > 0.01]  # fmt: skip
    print_table(table, ["method", "factor", "clips", "median_err", "within_5pct"])
    print()
    for key, value in total.items():
        print(f"{key}: {value}")
    write_results("compare_audio_partial" if args.methods else "compare_audio", {"manifest": str(manifest), "summary": total, "table": table,
                                    "errors": errors, "notable_clips": notable})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
