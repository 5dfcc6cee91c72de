"""CPU time AASIST-L adds to the synthetic-speech detector, per 10 s of audio, on one thread.

    PYTHONPATH=src .venv/bin/python bench/aasist_cost.py [--clips N] [--repeats R]

On 10 s LibriSpeech clips (16 kHz), the CPU time (user + system of this process, not wall time: the machine is
shared) of the detector's feature path with the LFCC windows alone and with the AASIST-L block added
(dflab.audio.voice_features.window_features "lfcc" and "lfcc+aasist": front end, windows, features), and of one
AASIST-L forward pass on one 4.04 s crop. Torch is held to one thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, require_shared_data, write_results  # noqa: E402
from audio_speed import SR, clips  # noqa: E402


def cpu_seconds(fn, repeats: int) -> float:
    """Median CPU seconds (user + system) of fn() over repeats calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return float(np.median(times))


def main() -> int:
    import torch

    from dflab.audio.aasist import CROP_SAMPLES, load_model
    from dflab.audio.voice_features import window_features
    from dflab.audio.voice_frontend import harmonise

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = require_shared_data()
    audio = clips(data, args.clips)
    model = load_model("AASIST-L")
    crop = torch.from_numpy(audio[0][:CROP_SAMPLES].copy())[None]

    def forward():
        with torch.inference_mode():
            model.embed(crop)

    rows = []
    for name in ("lfcc", "lfcc+aasist"):
        per_clip = [cpu_seconds(lambda x=x: window_features(harmonise(x, SR).samples, name), args.repeats)
                    for x in audio]  # fmt: skip
        rows.append({"stage": f"front end + {name} windows, per 10 s clip", "cpu_s": round(float(np.mean(per_clip)), 3)})
    rows.append({"stage": "AASIST-L added, per 10 s clip", "cpu_s": round(rows[1]["cpu_s"]
                                                                          - rows[0]["cpu_s"], 3)})
    rows.append({"stage": "one AASIST-L forward pass (4.04 s crop)", "cpu_s": round(cpu_seconds(forward, args.repeats), 3)})
    print(f"CPU seconds (user + system), one torch thread, {len(audio)} LibriSpeech clips of 10 s; "
          f"load average {os.getloadavg()[0]:.1f}:")
    print_table(rows, ["stage", "cpu_s"])
    write_results("aasist_cost", {"rows": rows, "clips": len(audio), "repeats": args.repeats, "torch_threads": 1,
                                  "load_average": round(os.getloadavg()[0], 2)})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
