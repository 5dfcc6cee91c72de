"""How fast `dflab scan` runs as a whole process: a 10 s 30 fps 720p camera clip, every detector on.

Each run is a fresh `python -m dflab scan CLIP --json` subprocess, so Python start-up, imports and model
loading count, as they do for a user. The clip is LivePortrait's s18.mp4 (a 1280x720, 30 fps phone clip
of a face with speech, 9.4 s) looped to exactly 10 s at its own size and rate (never an upscale), written
to a temporary folder. Without ../shared/data, a synthetic pan over scikit-image's astronaut photograph.

Reported: median wall and CPU (user + sys of the child) over RUNS runs, and the median per-stage wall
times the scan reports in its JSON; the clip as probed (size, frame rate: it must be a 30 fps 720p camera
clip, not an upscale) and the load average before and after the runs. On a shared machine wall times are noisy; CPU is the steadier figure
(on an idle 2-core machine wall is about CPU / 1.6, since decoding overlaps face tracking).

Run: PYTHONPATH=src .venv/bin/python bench/scan_speed.py [--runs 3] [--label after]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, shared_data, write_results  # noqa: E402

SECONDS, SIZE, FPS = 10.0, (1280, 720), 30.0
TARGET_WALL_S = 5.0


def make_clip(out: Path) -> str:
    data = shared_data()
    source = data / "liveportrait/assets/examples/source/s18.mp4" if data is not None else None
    if source is not None and source.is_file() and shutil.which("ffmpeg"):
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-stream_loop", "1", "-i", str(source), "-t", f"{SECONDS:g}",
             "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)],
            check=True,
        )
        return f"{source.name} looped to {SECONDS:g} s (1280x720, 30 fps, H.264 + AAC)"
    import cv2
    from skimage.data import astronaut

    from dflab.media import write_video

    photo = astronaut()
    frames = []
    for i in range(int(SECONDS * FPS)):
        shift = int(40 * np.sin(i / 20))
        crop = photo[40 + shift // 2 : 40 + shift // 2 + 400, 50 + shift : 50 + shift + 400]
        frames.append(cv2.resize(np.ascontiguousarray(crop), SIZE))
    write_video(out, frames, fps=FPS)
    return "astronaut pan (synthetic, 1280x720, 30 fps)"


def one_run(clip: Path, options: tuple[str, ...] = ()) -> dict:
    """One whole-process scan (with `dflab scan` options): wall seconds, CPU seconds of the child, and the scan's
    own result."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dflab", "scan", str(clip), "--json", "--quiet", *options],
                          env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "result": json.loads(done.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="", help="also write bench/results/scan_speed_LABEL.json")
    args = parser.parse_args()
    from dflab.media import probe

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip_720p30.mp4"
        source = make_clip(clip)
        facts = probe(clip)
        load_before = os.getloadavg()[0]
        runs = [one_run(clip) for _ in range(args.runs)]
    result = runs[0]["result"]
    wall = statistics.median(r["wall_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    stages = list(result["timings"])
    rows = [{"stage": s, "median_s": statistics.median(r["result"]["timings"].get(s, 0.0) for r in runs)}
            for s in stages]
    duration = result["duration_s"]
    print(f"clip: {source}; probed {facts['width']}x{facts['height']} at {facts['fps']:g} fps, {duration:.1f} s, "
          f"{result['frames_analysed']} frames analysed; {args.runs} runs")
    print_table(rows, ["stage", "median_s"])
    print("(stage times are wall seconds inside the scan; decode runs in a thread beside faces, so they overlap)")
    print(f"\nwhole process: median wall {wall:.2f} s, median CPU (user+sys) {cpu:.2f} s; "
          f"runs wall {[round(r['wall_s'], 2) for r in runs]}, CPU {[round(r['cpu_s'], 2) for r in runs]}")
    print(f"seconds of video per wall second: {duration / wall:.2f} (target: wall <= {TARGET_WALL_S:g} s, "
          f"i.e. >= {duration / TARGET_WALL_S:.1f}x); load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    payload = {
        "clip": source, "clip_size": [facts["width"], facts["height"]], "clip_fps": facts["fps"],
        "duration_s": duration, "frames_analysed": result["frames_analysed"], "load_average_1min_before": load_before,
        "runs": args.runs, "median_wall_s": wall, "median_cpu_s": cpu,
        "wall_s_runs": [r["wall_s"] for r in runs], "cpu_s_runs": [r["cpu_s"] for r in runs],
        "video_s_per_wall_s": duration / wall, "load_average_1min": os.getloadavg()[0],
        "stage_median_s": {row["stage"]: row["median_s"] for row in rows},
        "verdict": result["verdict"], "score": result["score"],
    }
    write_results("scan_speed", payload)
    if args.label:
        write_results(f"scan_speed_{args.label}", payload)


if __name__ == "__main__":
    main()
