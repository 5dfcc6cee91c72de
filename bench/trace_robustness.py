"""Trace robustness: recall of `dflab trace` on harder edits of registered photos, and false matches on unrelated ones.

    .venv/bin/python bench/trace_robustness.py [--originals N (default 40)] [--unrelated N (default 80)]

Registers N real photos (cnndetection crops, face_recognition and dlib_faces photos, evenly sampled) in a
fresh registry, then traces edited copies of each: JPEG 50; a centre crop keeping 64 % of the area; a
horizontal flip (also after JPEG 75); a picture-in-picture re-post (the photo at 60 % size pasted at a
seeded random position onto an unrelated photo from faces/ of the same size, saved as JPEG 75); and the old
combined edit (80 % crop, half size, JPEG 50). Recall = the original is among the matches. Then traces
unrelated, unregistered photos from faces/ and counts any match as a false match. Also the median time of a
trace (the whole `Registry.trace`: decode, hashes, search) for found copies and for unrelated pictures (which
pay for every view, the pasted-rectangle search included). Prints the table and writes
bench/results/trace_robustness.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, require_shared_data, write_results  # noqa: E402

SUFFIXES = (".jpg", ".jpeg", ".png")


def _pictures(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)


def _even(paths: list[Path], n: int) -> list[Path]:
    return paths[:: max(1, len(paths) // max(n, 1))][:n]


def originals(data: Path, n: int) -> list[Path]:
    third = max(1, n // 3)
    picked = _even(_pictures(data / "cnndetection"), third) + _even(_pictures(data / "dlib_faces"), third)
    return picked + _even(_pictures(data / "face_recognition"), n - len(picked))


def unrelated(data: Path, n: int, skip: int = 0) -> list[Path]:
    """Photos from faces/ (not registered), evenly over its source folders; `skip` shifts the pick."""
    folders = sorted(p for p in (data / "faces").iterdir() if p.is_dir())
    per = -(-n // len(folders))
    out: list[Path] = []
    for folder in folders:
        found = _pictures(folder)
        step = max(1, len(found) // (2 * per))
        out += found[skip % step :: step][:per]
    return out[:n]


def edits(background_for):
    import cv2

    from dflab.provenance.watermark.attacks import combined, crop_center, flip, jpeg

    def pip(rgb: np.ndarray, index: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        out = cv2.resize(background_for(index), (w, h), interpolation=cv2.INTER_AREA)
        small = cv2.resize(rgb, (round(w * 0.6), round(h * 0.6)), interpolation=cv2.INTER_AREA)
        rng = np.random.default_rng(index)
        top = int(rng.integers(0, h - small.shape[0] + 1))
        left = int(rng.integers(0, w - small.shape[1] + 1))
        out[top : top + small.shape[0], left : left + small.shape[1]] = small
        return jpeg(out, 75)

    return {
        "jpeg50": lambda rgb, i: jpeg(rgb, 50),
        "combined80": lambda rgb, i: combined(rgb),
        "crop64": lambda rgb, i: crop_center(rgb, 0.64),
        "flip": lambda rgb, i: flip(rgb),
        "jpeg75+flip": lambda rgb, i: flip(jpeg(rgb, 75)),
        "pip60": pip,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=int, default=40)
    parser.add_argument("--unrelated", type=int, default=80)
    args = parser.parse_args()
    data = require_shared_data()
    work = Path(tempfile.mkdtemp(prefix="dflab-trace-bench-"))
    os.environ["DFLAB_HOME"] = str(work / "home")  # never the user's ledger
    from dflab.media.load import load_image_rgb
    from dflab.media.write import write_image
    from dflab.provenance.registry import open_registry

    paths = originals(data, args.originals)
    backgrounds = unrelated(data, len(paths), skip=1)
    ids = iter(range(1, 10**6))
    registry = open_registry(work / "registry", record_sink=lambda fields: next(ids))
    record_of = {}
    for path in paths:
        record_of[path] = registry.register(path)["record"]
    edit_fns = edits(lambda i: load_image_rgb(backgrounds[i % len(backgrounds)]))
    rows, found_ms = [], []
    for name, fn in edit_fns.items():
        hits, views = 0, {}
        for index, path in enumerate(paths):
            query = work / f"{name}-{index}.png"
            write_image(query, fn(load_image_rgb(path), index))
            t = time.perf_counter()
            matches = registry.trace(query)["matches"]
            elapsed = 1000 * (time.perf_counter() - t)
            mine = [m for m in matches if m["record"] == record_of[path]]
            if mine:
                hits += 1
                found_ms.append(elapsed)
                views[mine[0]["query_view"].split("@")[0]] = views.get(mine[0]["query_view"].split("@")[0], 0) + 1
            query.unlink()
        rows.append({"attack": name, "queries": len(paths), "recall": round(hits / len(paths), 4),
                     "found_through": ", ".join(f"{k} {v}" for k, v in sorted(views.items()))})  # fmt: skip
    false_matches, unrelated_ms, strangers = [], [], unrelated(data, args.unrelated, skip=0)
    for path in strangers:
        t = time.perf_counter()
        matches = registry.trace(path)["matches"]
        unrelated_ms.append(1000 * (time.perf_counter() - t))
        if matches:
            false_matches.append({"query": str(path.relative_to(data)), "record": matches[0]["record"],
                                  "distance": matches[0]["distance"], "query_view": matches[0]["query_view"]})  # fmt: skip
    registry.close()
    print_table(rows, ["attack", "queries", "recall", "found_through"])
    fm = {"queries": len(strangers), "false_matches": len(false_matches), "details": false_matches}
    timing = {"trace_ms_p50_found": round(statistics.median(found_ms), 1) if found_ms else None,
              "trace_ms_p50_unrelated": round(statistics.median(unrelated_ms), 1)}  # fmt: skip
    print(f"\nfalse matches on unrelated, unregistered photos: {fm['false_matches']} / {fm['queries']}")
    print(f"trace time, median: {timing['trace_ms_p50_found']} ms (copy found), "
          f"{timing['trace_ms_p50_unrelated']} ms (unrelated picture, every view searched)")  # fmt: skip
    write_results("trace_robustness", {
        "benchmark": "trace_robustness", "originals": [str(p.relative_to(data)) for p in paths],
        "registered_hashes_per_photo": len(registry.hasher.variants), "rows": rows, "unrelated": fm, **timing,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
