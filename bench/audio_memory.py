"""Peak memory of the speed cue's audio part against recording length: the whole recording at once vs blocks.

    .venv/bin/python bench/audio_memory.py                       # 180 s and 600 s
    .venv/bin/python bench/audio_memory.py --durations 180,600,1800

The recordings are real speech (the sound of LivePortrait d6, 33.6 s, 44.1 kHz AAC) looped with ffmpeg into a
temporary folder as 16-bit WAV at its own rate. Each measurement is a fresh process that loads the 16 kHz copy
(as a scan does) and then runs one way of reading the speed of the whole recording plus its 10 s windows:
"whole" (estimate_speed on the whole recording and speed_windows, with the whole recording decoded again at its
own rate: what a scan did for every length before) or "blocks" (dflab.audio.speed_blocks.long_recording_speed:
the whole-recording features from blocks of at most a minute, the native-rate audio streamed; what a scan does
past 90 s). Peak RSS from the kernel (ru_maxrss) of that process; also CPU seconds and the reading. Writes
bench/results/audio_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, require_shared_data, write_results  # noqa: E402

SOURCE = "liveportrait/assets/examples/driving/d6.mp4"

MEASURE = """
import json, resource, sys, time
from pathlib import Path
from dflab.media import load_audio
from dflab.media.audio import AudioChunks, decode_audio
from dflab.audio.speed import SpeedModel, estimate_speed, speed_windows
from dflab.audio.speed_blocks import long_recording_speed
path, mode = Path(sys.argv[1]), sys.argv[2]
speech = load_audio(path).samples
model = SpeedModel.load()
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cpu = time.process_time()
if mode == "whole":
    native = decode_audio(path, 44100)[0].samples
    estimate = estimate_speed(speech, 16000, model, native=(native, 44100))
    windows = speed_windows(speech, 16000, model, native=(native, 44100))
else:
    estimate, windows = long_recording_speed(speech, 16000, model, AudioChunks(path, 44100), 44100)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "loaded_mb": loaded,
                  "cpu_s": time.process_time() - cpu, "p_changed": estimate.p_changed,
                  "factor": estimate.factor_estimate, "windows": len(windows)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durations", default="180,600", help="recording lengths in seconds (comma-separated)")
    args = parser.parse_args()
    data = require_shared_data()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="dflab-audio-memory-") as tmp:
        for seconds in [float(d) for d in args.durations.split(",") if d.strip()]:
            wav = Path(tmp) / f"speech_{int(seconds)}s.wav"
            subprocess.run(["ffmpeg", "-y", "-v", "error", "-stream_loop", "-1", "-i", str(data / SOURCE), "-t",
                            f"{seconds}", "-vn", "-c:a", "pcm_s16le", str(wav)], check=True)  # fmt: skip
            for mode in ("whole", "blocks"):
                out = subprocess.run([sys.executable, "-c", MEASURE, str(wav), mode], env=env, capture_output=True,
                                     text=True, check=True)  # fmt: skip
                row = {"seconds": seconds, "mode": mode, **json.loads(out.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(f"  {seconds:.0f} s {mode}: peak {row['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    print()
    print_table(rows, ["seconds", "mode", "peak_rss_mb", "loaded_mb", "cpu_s", "p_changed", "factor", "windows"])
    write_results("audio_memory", {"source": SOURCE, "runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
