"""Face crops per second through the learned face-crop detector (target: >= 25 on the 2-core machine).

Per runtime (torch; ONNX Runtime on the network's export, which scans use: face_crop_runtime), thread count
and batch size: the network alone (aligned 160 px crops in, P(fake) out); per thread count, the whole
detector on a decoded, face-analysed 720p clip (choose observations, align each face from its frame, batch,
score), which is what a scan pays. And what a fresh process pays before its first crop (import and load, CPU
seconds, median of 3 processes) in each runtime, with the ratio. Decoding and face finding are the scanner's
other stages (bench/scan_speed.py). Run: .venv/bin/python bench/detector_speed.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, shared_data, write_results  # noqa: E402

CLIP = "ffpp/original_sequences/youtube/c23/videos/634.mp4"  # 1280x720 real


def _subject():
    from dflab.config import SamplingPolicy
    from dflab.detect.context import AnalysedMedia
    from dflab.faces import analyse
    from dflab.media import load

    data = shared_data()
    if data is None:
        return None
    media = load(data / CLIP, policy=SamplingPolicy(all_frames_up_to_s=0, rate_fps=5))
    return AnalysedMedia(media, analyse(media, embed_every_s=None))


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


START_UP = {  # a fresh process's way to its first forward pass, per runtime
    "torch": "from dflab.detect.learned.face_crop_model import cached_model; cached_model(None)",
    "onnxruntime": "from dflab.detect.learned.face_crop_runtime import load_network; load_network(None, 1)",
}


def start_up_cpu_s(code: str, runs: int = 3) -> float:
    """Median process CPU (user + sys) of `code` in a fresh interpreter, less the interpreter's own start."""
    timed = f"import os, time; {code}; t = os.times(); print(t.user + t.system)"
    bare = "import os; t = os.times(); print(t.user + t.system)"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}

    def cpu(source: str) -> float:
        out = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, check=True, env=env)
        return float(out.stdout.split()[-1])

    return statistics.median(cpu(timed) for _ in range(runs)) - statistics.median(cpu(bare) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--crops", type=int, default=64)
    args = parser.parse_args()
    import torch

    from dflab.detect.learned.face_crop import FaceCropDetector
    from dflab.detect.learned.face_crop_model import cached_model, predict_proba
    from dflab.detect.learned.face_crop_runtime import load_network

    model, meta = cached_model()
    size = int(meta["crop_size"])
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (args.crops, size, size, 3), dtype=np.uint8)
    subject = _subject()
    rows = []

    def network_rows(runtime: str, threads: int, predict) -> None:
        for batch in (1, 16, 32):
            predict(crops[:batch], batch)  # warm-up
            seconds = _best(lambda: predict(crops, batch), args.repeats)
            rows.append({"what": "network", "runtime": runtime, "threads": threads, "batch": batch,
                         "crops": args.crops, "seconds": seconds, "crops_per_s": args.crops / seconds})

    # torch first: importing ONNX Runtime into the same process slows torch's forward passes (~15 %, its own
    # OpenMP threads), which no scan does (it runs one or the other)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        network_rows("torch", threads, lambda c, b: predict_proba(model, c, b))
    load_network(None, 1)  # makes the export if the cache has none yet, so the start-up rows measure its opening
    start_up = {runtime: start_up_cpu_s(code) for runtime, code in START_UP.items()}
    for threads in (1, 2):
        network_rows("onnxruntime", threads, load_network(None, threads).probabilities)
        if subject is not None:
            detector = FaceCropDetector(rate_per_s=5.0, max_per_track=10_000, threads=threads)
            n = detector.detect(subject).details["crops_scored"]
            seconds = _best(lambda: detector.detect(subject), args.repeats)
            rows.append({"what": "detector (align+score)", "runtime": "onnxruntime", "threads": threads,
                         "batch": 32, "crops": n, "seconds": seconds, "crops_per_s": n / seconds})
    print(f"face-crop detector, {size}px crops, os.cpu_count()={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f} (shared machine: other jobs run at the same time)")
    print_table(rows, ["what", "runtime", "threads", "batch", "crops", "seconds", "crops_per_s"])
    best = max(r["crops_per_s"] for r in rows)
    ratio = start_up["torch"] / start_up["onnxruntime"]
    print(f"\nbest: {best:.1f} crops/s (target >= 25)")
    print(f"fresh process to its first crop (import + load, CPU): torch {start_up['torch']:.2f} s, "
          f"onnxruntime {start_up['onnxruntime']:.2f} s ({ratio:.1f}x less)")
    write_results("detector_speed", {"crop_size": size, "load_average_1min": os.getloadavg()[0], "rows": rows,
                                     "best_crops_per_s": best, "target_crops_per_s": 25,
                                     "start_up_cpu_s": start_up, "start_up_ratio": ratio})


if __name__ == "__main__":
    main()
