"""Detection quality and throughput of the real scanner on a labelled manifest, through dflab.eval.

Run: .venv/bin/python bench/eval_manifest.py [--manifest PATH] [--limit N]
Default: ../shared/data/manifests/cnndetection_images.csv (320 images, about half a minute on 2 cores).
Prints the eval table and writes bench/results/eval_manifest.json (the `dflab eval --json` object without rows,
plus files per second).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from dflab.eval.manifest import Manifest, read_manifest
from dflab.eval.runner import run_eval
from dflab.eval.summary import text_table

RESULTS = Path(__file__).resolve().parent / "results" / "eval_manifest.json"
SHARED = Path(os.environ.get("DFLAB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=SHARED / "manifests" / "cnndetection_images.csv")
    parser.add_argument("--limit", type=int, default=0, help="only the first N rows (0 = all)")
    args = parser.parse_args()

    from dflab.detect.scan import scan_file

    manifest = read_manifest(args.manifest)
    if args.limit > 0:
        manifest = Manifest(manifest.path, manifest.columns, manifest.rows[: args.limit])
    scan_file(manifest.rows[0].file)  # warm-up: model loading is not part of the per-file rate
    start = time.perf_counter()
    result = run_eval(manifest, scan_file, progress=False)
    wall = time.perf_counter() - start
    print(text_table(result))
    rate = len(result.rows) / wall
    print(f"\n{len(result.rows)} files in {wall:.1f} s: {rate:.2f} files/s ({os.cpu_count()} CPUs)")

    doc = {k: v for k, v in result.to_json().items() if k != "rows"}
    doc.update(
        wall_s=round(wall, 2),
        files_per_s=round(rate, 3),
        cpus=os.cpu_count(),
        machine=platform.machine(),
        python=platform.python_version(),
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
