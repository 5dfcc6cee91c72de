"""AASIST-L window outputs for every development file of the synthetic-speech corpus, cached per file.

    python -m dflab.train.aasist_window_cache --data ../shared/data [--cache DIR]

Each file is read as it is (codec version "original"), put through the scan's front end and cut into the LFCC
model's windows (dflab.audio.voice_features), and every window is run through AASIST-L once
(dflab.audio.aasist_windows) on one window in four (one per 8 s of speech, as at scan time); `spread` lines
those rows up with the LFCC windows.
The codec re-encodings of the classic sets are not run (the network costs ~0.8 s of CPU per window; the three
versions would triple that), so models that use AASIST train on the files as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from dflab.train.voice_clone_data import VoiceFile, corpus

DEFAULT_CACHE = Path("/tmp/dflab-voice-aasist")
CACHE_VERSION = "aasist-l-every4-v1"


def _cache_path(cache: Path, item: VoiceFile) -> Path:
    key = hashlib.sha256(f"{CACHE_VERSION}|{item.path.resolve()}".encode()).hexdigest()[:20]
    return cache / f"{item.path.stem}-{key}.npz"


def aasist_block(item: VoiceFile, cache: str | Path = DEFAULT_CACHE, compute: bool = True) -> np.ndarray | None:
    """(sampled windows, 161) AASIST outputs of the file as it is; None when not cached and compute is False."""
    from dflab.audio.aasist_windows import sampled, window_outputs
    from dflab.audio.voice_features import SAMPLE_RATE, speech_core, windows
    from dflab.audio.voice_frontend import harmonise
    from dflab.media import load_audio

    path = _cache_path(Path(cache), item)
    if not path.exists():
        if not compute:
            return None
        core = speech_core(harmonise(load_audio(item.path).samples, SAMPLE_RATE).samples)
        block = window_outputs(core, sampled(windows(core)))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, aasist=block)
        tmp.replace(path)
    with np.load(path) as z:
        return z["aasist"]


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    items = corpus(args.data)
    start = time.process_time()
    for n, item in enumerate(items, 1):
        block = aasist_block(item, args.cache)
        if n % 10 == 0 or n == len(items):
            print(f"{n}/{len(items)} files, {time.process_time() - start:.0f} s CPU, last {item.path.name}: "
                  f"{len(block)} windows", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
