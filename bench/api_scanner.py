"""What one warm Scanner saves: the same clip scanned N times three ways.

- "fresh process per call": `python -c "scan_file(clip)"` in a new interpreter each time, what a job
  queue that shells out per file pays (imports, MediaPipe graphs, dlib and torch networks, every call).
- "new Scanner per call": `dflab.Scanner().scan(clip)` in one process, what `scan_file` did before the
  Scanner existed (new detector instances each call; the weights were already cached per process).
- "one warm Scanner": `dflab.Scanner().warm()` once, then `.scan(clip)` for every call.

The in-process rows run after one untimed scan that pays the one-off import and JIT costs. The shared
2-core machine is busy with other jobs, so each figure is the median of N calls.

Run: .venv/bin/python bench/api_scanner.py [--repeats N] [--clip PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, shared_data, write_results  # noqa: E402

DEFAULT_CLIP = "liveportrait/assets/examples/driving/d0.mp4"  # 3.1 s, 512x512, one face


def _timed(fn, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def _fresh_process(clip: Path) -> None:
    code = f"from dflab.detect.scan import scan_file; scan_file({str(clip)!r})"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        sys.exit(f"fresh-process scan failed: {done.stderr.strip().splitlines()[-1:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clip", type=Path)
    args = parser.parse_args()
    data = shared_data()
    if args.clip is None and data is None:
        sys.exit("no ../shared/data: give --clip PATH")
    clip = args.clip or data / DEFAULT_CLIP
    import dflab

    timings = {"fresh process per call": _timed(lambda: _fresh_process(clip), args.repeats)}
    dflab.Scanner().scan(clip)  # one-off costs (imports, librosa JIT) paid by neither in-process row
    timings["new Scanner per call"] = _timed(lambda: dflab.Scanner().scan(clip), args.repeats)
    start = time.perf_counter()
    scanner = dflab.Scanner().warm()
    warm_up_s = time.perf_counter() - start
    timings["one warm Scanner"] = _timed(lambda: scanner.scan(clip), args.repeats)
    result = scanner.scan(clip)

    warm_median = statistics.median(timings["one warm Scanner"])
    rows = [{"how": how, "median_s": statistics.median(s), "min_s": min(s), "max_s": max(s),
             "x_warm": statistics.median(s) / warm_median} for how, s in timings.items()]
    print(f"clip: {clip.name}, {result.duration_s:.1f} s, {result.frames_analysed} frames analysed, "
          f"{args.repeats} scans per row; warm() itself took {warm_up_s:.2f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print_table(rows, ["how", "median_s", "min_s", "max_s", "x_warm"])
    write_results("api_scanner", {
        "clip": clip.name, "duration_s": result.duration_s, "frames_analysed": result.frames_analysed,
        "repeats": args.repeats, "load_average_1min": os.getloadavg()[0], "warm_up_s": warm_up_s,
        "seconds": timings, "median_s": {r["how"]: r["median_s"] for r in rows},
        "ratio_fresh_process_over_warm": rows[0]["x_warm"], "ratio_new_scanner_over_warm": rows[1]["x_warm"],
    })


if __name__ == "__main__":
    main()
