"""Where in a long recording the speed was changed: 30 s recordings with one 10 s stretch re-timed.

    .venv/bin/python bench/speed_localisation.py [--set DIR]

From the speed test set (bench/speed_accuracy.py builds it): per source with three 10 s bases (10 sources), the
three natural clips joined (30 s, natural), and the same with the middle one replaced by its phase-vocoder or
atempo version at 0.5-2x (changed 10-20 s). Each source is judged by a model fitted without it
(leave-one-speaker-out, as in bench/speed_accuracy.py), on the whole recording and in 10 s windows 5 s apart
(dflab.audio.speed.speed_windows), combined as the scan combines them (dflab.audio.speed.windowed_reading: up to
30 s the windows decide too; the time ranges are the flagged windows joined). Reported: decisions on the whole
recording alone and as the scan makes them, windows flagged, two overlapping windows flagged (a stricter rule),
overlap (IoU) of the reported ranges with 10-20 s, the factor error of the whole recording and of the scan's
reading (the median of the flagged windows'), and how fast the windows run (audio seconds per wall second).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

CHANGED = (10.0, 20.0)


def _join(folder: Path, names: list[str]) -> tuple[np.ndarray, tuple[np.ndarray, int] | None]:
    """16 kHz samples and, where the clips are not 16 kHz, the native-rate samples, each joined."""
    from dflab.audio.speed import load_clip

    parts = [load_clip(folder / name) for name in names]
    samples = np.concatenate([p[0] for p in parts])
    if parts[0][1] is None:
        return samples, None
    return samples, (np.concatenate([p[1][0] for p in parts]), parts[0][1][1])


def _iou(ranges: list[tuple[float, float]], truth: tuple[float, float]) -> float:
    inside = sum(max(0.0, min(b, truth[1]) - max(a, truth[0])) for a, b in ranges)
    covered = sum(b - a for a, b in ranges)
    return inside / (covered + (truth[1] - truth[0]) - inside)


def main() -> int:
    from dflab.audio.speed import estimate_speed, speed_windows, windowed_reading
    from dflab.train.speed_calibrate import extract_features, fit_speed_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default=str(Path(tempfile.gettempdir()) / "dflab_speed_testset"))
    args = parser.parse_args()
    folder = Path(args.set)
    if not (folder / "manifest.csv").exists():
        print(f"no speed test set in {folder}: run bench/speed_accuracy.py first", file=sys.stderr)
        return 2
    raw, rows = extract_features(folder / "manifest.csv")
    factors = np.array([float(r["factor"]) for r in rows])
    methods = np.array([r["method"] for r in rows])
    speakers = np.array([r["speaker"] for r in rows])
    for r in rows:  # the base (10 s of the source) is in the file name: <speaker>_b<N>_<method>_<factor>
        r["base"] = re.search(r"_(b\d+)_", Path(r["path"]).name).group(1)
    path_of = {(r["speaker"], r["base"], r["method"], float(r["factor"])): r["path"] for r in rows}
    groups: dict[str, list[dict]] = defaultdict(list)
    window_seconds: list[tuple[float, float]] = []  # (audio s, wall s of its windows)
    for speaker in sorted(set(speakers)):
        bases = sorted({r["base"] for r in rows if r["speaker"] == speaker})
        if len(bases) < 3:
            continue
        held = speakers == speaker
        model = fit_speed_model(raw[~held], factors[~held], methods[~held], speakers[~held])
        natural = [path_of[(speaker, b, "original", 1.0)] for b in bases[:3]]
        cases = [("natural", 1.0, natural)] + [
            (method, f, natural[:1] + [path_of[(speaker, bases[1], method, f)]] + natural[2:])
            for method in ("stretch", "atempo") for f in (0.5, 0.75, 0.9, 1.1, 1.25, 1.5, 2.0)
            if (speaker, bases[1], method, f) in path_of
        ]  # fmt: skip
        for method, factor, names in cases:
            samples, native = _join(folder, names)
            whole = estimate_speed(samples, model=model, native=native)
            started = time.perf_counter()
            windows = [w for w in speed_windows(samples, model=model, native=native) if w.estimate is not None]
            window_seconds.append((len(samples) / 16_000, time.perf_counter() - started))
            reading = windowed_reading(whole, windows, len(samples) / 16_000)  # what the scan reports
            ranges = reading.changed_ranges
            flags = [w.estimate.changed for w in windows]
            groups["natural 1.0" if method == "natural" else f"{method} {factor}"].append({
                "speaker": speaker, "whole_p": round(whole.p_changed, 4),
                "window_p": [round(w.estimate.p_changed, 4) for w in windows],
                "whole_changed": whole.changed, "windows": len(windows), "changed": reading.p_changed >= 0.5,
                "two_in_a_row": any(a and b for a, b in pairwise(flags)),
                "windows_flagged": sum(w.estimate.changed for w in windows), "ranges": ranges,
                "iou": _iou(ranges, CHANGED) if ranges else 0.0,
                "whole_error": abs(whole.factor_estimate / factor - 1.0),
                "reading_error": abs(reading.factor_estimate / factor - 1.0),
            })  # fmt: skip
        print(f"{speaker}: {len(cases)} recordings", file=sys.stderr)
    table = []
    for name, cases in groups.items():
        row = {"group": name, "n": len(cases), "whole clip changed": f"{sum(c['whole_changed'] for c in cases)}/{len(cases)}",
               "windows flagged": f"{sum(c['windows_flagged'] for c in cases)}/{sum(c['windows'] for c in cases)}",
               "changed (scan)": f"{sum(c['changed'] for c in cases)}/{len(cases)}",
               "2 windows in a row": f"{sum(c['two_in_a_row'] for c in cases)}/{len(cases)}"}  # fmt: skip
        if name != "natural 1.0":
            found = [c for c in cases if c["ranges"]]  # any window flagged
            row.update({
                "IoU median": round(float(np.median([c["iou"] for c in found])), 2) if found else None,
                "factor err whole": round(float(np.median([c["whole_error"] for c in cases])), 3),
                "factor err (scan)": round(float(np.median([c["reading_error"] for c in cases])), 3),
            })  # fmt: skip
        table.append(row)
    print_table(table, ["group", "n", "whole clip changed", "changed (scan)", "windows flagged", "2 windows in a row",
                        "IoU median", "factor err whole", "factor err (scan)"])  # fmt: skip
    audio_s, wall_s = map(sum, zip(*window_seconds))
    print(f"\nwindows: {audio_s / wall_s:.1f}x real time ({len(window_seconds)} recordings of 30 s)")
    recordings = [{"group": name, **{k: c[k] for k in ("speaker", "whole_p", "window_p")}}
                  for name, cases in groups.items() for c in cases]
    write_results("speed_localisation", {"test_set": str(folder), "changed_s": list(CHANGED), "table": table,
                                         "recordings": recordings,
                                         "windows_real_time_factor": round(audio_s / wall_s, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
