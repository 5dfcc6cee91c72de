"""`dflab batch` throughput: files per second with 1 and with 2 local workers, and their ratio.

Each run is a fresh `python -m dflab batch DIR --out NEW.jsonl --workers N` subprocess over the same folder of
real pictures (links to ../shared/data: cnndetection crops and face_recognition photos), so start-up and model
loading count, once per worker, as they do for a user. Reported: wall seconds, files/s, and the ratio of the
2-worker to the 1-worker rate. On a 2-core machine shared with other work the ratio says more than the rates;
`--engine ray` measures the Ray engine the same way (its start-up, about 3 s, included).

Run: PYTHONPATH=src .venv/bin/python bench/batch.py [--files 24] [--engine local|ray]
Writes bench/results/batch.json (batch_ray.json with --engine ray).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, require_shared_data, write_results  # noqa: E402


def pictures(data: Path, count: int) -> list[Path]:
    faces = sorted((data / "face_recognition" / "examples").glob("*.jpg"))
    crops = sorted((data / "cnndetection" / "crops").glob("*.png"))
    chosen = (faces + crops)[:count]
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} pictures found under {data}")
    return chosen


def run_batch(folder: Path, out: Path, workers: int, engine: str) -> dict:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dflab", "batch", str(folder), "--out", str(out), "--engine", engine,
                           "--workers", str(workers), "--json"], env=env, capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - t0
    if done.returncode not in (0, 2):
        raise SystemExit(f"dflab batch failed: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    return {"workers": workers, "engine": engine, "files": summary["scanned"], "errors": summary["errors"],
            "wall_s": round(wall, 2), "files_per_s": round(summary["scanned"] / wall, 3)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=24, help="pictures per run (default 24)")
    parser.add_argument("--engine", choices=["local", "ray"], default="local")
    args = parser.parse_args()
    data = require_shared_data()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dflab-bench-batch-") as tmp:
        folder = Path(tmp) / "media"
        folder.mkdir()
        for path in pictures(data, args.files):
            (folder / path.name).symlink_to(path)
        for workers in (1, 2):
            rows.append(run_batch(folder, Path(tmp) / f"results-{workers}.jsonl", workers, args.engine))
            print(f"  {workers} worker(s): {rows[-1]['files_per_s']:.3f} files/s", file=sys.stderr, flush=True)
    ratio = rows[1]["files_per_s"] / rows[0]["files_per_s"]
    print_table(rows, ["engine", "workers", "files", "errors", "wall_s", "files_per_s"])
    print(f"\n2 workers / 1 worker: {ratio:.2f}x  (cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")
    write_results("batch" if args.engine == "local" else "batch_ray", {
        "files": args.files, "rows": rows, "speedup_2_over_1": round(ratio, 3),
        "load_average_after": round(os.getloadavg()[0], 2),
        "note": "wall time of the whole command: start-up and model loading (once per worker) included",
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
