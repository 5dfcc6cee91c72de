"""Real-time factor of each audio analysis on this machine (target: >= 10x real time).

    .venv/bin/python bench/audio_speed.py [--clips N] [--repeats R]

Times every stage on 10 s LibriSpeech clips (16 kHz): YIN pitch, the energy envelope and rate statistics,
spectral statistics, onset sharpness, the whole speed feature vector + model (16 kHz, and a 44.1 kHz source
whose artefacts are measured at its own rate; that time includes making the 44.1 kHz copy), LFCC + the synthetic-speech
model, and the GE2E speaker embedding. RTF = audio seconds / wall seconds (higher is faster).
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

SR = 16_000


def clips(data: Path, n: int) -> list[np.ndarray]:
    from dflab.media import load_audio

    out = []
    for speaker in sorted(p for p in (data / "librispeech").iterdir() if p.is_dir())[:n]:
        samples = np.concatenate([load_audio(f).samples for f in sorted(speaker.glob("*.flac"))[:6]])
        out.append(samples[: 10 * SR])
    return out


def stages():
    from dflab.audio.antispoof import SpoofModel
    from dflab.audio.pitch import yin
    from dflab.audio.rate import rate_statistics, speech_band_envelope
    from dflab.audio.signal import active_mask, normalise_loudness
    from dflab.audio.spectral import onset_sharpness, power_spectrogram, spectral_statistics
    from dflab.audio.speaker import embed
    from dflab.audio.speed import SpeedModel, estimate_speed

    speed_model, spoof_model = SpeedModel.load(), SpoofModel.load()

    def rate(x):
        spec = power_spectrogram(x, SR)
        return rate_statistics(speech_band_envelope(spec.power, spec.freqs))

    def speed_at_441(x):
        # a 44.1 kHz source: the method artefacts are measured on the native-rate samples as well
        from scipy.signal import resample_poly

        return estimate_speed(x, SR, speed_model, native=(resample_poly(x, 441, 160).astype(np.float32), 44_100))

    def spectral(x):
        spec = power_spectrogram(x, SR)
        level = 10 * np.log10(spec.power.sum(axis=0) + 1e-12)
        return spectral_statistics(spec, active_mask(level - level.max(), floor_db=-60.0))

    return {
        "loudness normalisation": lambda x: normalise_loudness(x, SR),
        "pitch (YIN)": lambda x: yin(x, SR),
        "speaking rate + pauses": rate,
        "spectral statistics": spectral,
        "onset sharpness": lambda x: onset_sharpness(x, SR),
        "speed estimate (all features + model)": lambda x: estimate_speed(x, SR, speed_model),
        "speed estimate, 44.1 kHz source (+ upsampling)": speed_at_441,
        "synthetic speech (LFCC + model)": lambda x: spoof_model.score_audio(x, SR),
        "speaker embedding (GE2E)": lambda x: embed(x, SR),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = require_shared_data()
    audio = clips(data, args.clips)
    seconds = sum(len(c) for c in audio) / SR
    rows = []
    for name, fn in stages().items():
        fn(audio[0])  # warm-up: librosa/numba JIT, model loading
        best = np.inf
        for _ in range(args.repeats):
            start = time.perf_counter()
            for clip in audio:
                fn(clip)
            best = min(best, time.perf_counter() - start)
        rows.append({"stage": name, "ms_per_10s_clip": round(1000 * best / len(audio), 1),
                     "rtf": round(seconds / best, 1), "meets_10x": bool(seconds / best >= 10)})  # fmt: skip
    print(f"{len(audio)} clips x 10 s, best of {args.repeats} (RTF = audio seconds per wall second)\n")
    print_table(rows, ["stage", "ms_per_10s_clip", "rtf", "meets_10x"])
    load = os.getloadavg()[0]
    print(f"\n1-min load average during the run: {load:.1f} on {os.cpu_count()} cores (shared machine: best-of timings)")
    write_results("audio_speed", {"clips": len(audio), "clip_seconds": 10, "repeats": args.repeats,
                                  "load_average_1min": round(load, 2), "stages": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
