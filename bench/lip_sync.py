"""Lip-sync benchmark: natural talking clips vs the same pictures dubbed with another clip's audio or with their
own audio 500 ms late. Prints the window-median mouth/voice correlation (dflab.shallow.lipsync) and the
lip_sync detector's score and confidence for each; writes bench/results/lip_sync.json.

    .venv/bin/python bench/lip_sync.py      # 7 clips x 3 versions, first 10 s at 384 px (a few minutes)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "lip_sync.json"
SOURCES = [f"liveportrait/assets/examples/driving/{n}.mp4" for n in ("d6", "d20", "d10", "d11", "d12", "d14")] + [
    "face_recognition/examples/short_hamilton_clip.mp4"
]


def main() -> None:
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.registry import create_detector
    from dflab.faces import analyse
    from dflab.media import load
    from dflab.train.edits import read_clip, replace_audio, write_clip
    from dflab.shallow.lipsync import lip_sync

    data = Path(os.environ.get("DFLAB_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not data.is_dir():
        sys.exit(f"shared data not found at {data}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="dflab_lipsync_") as tmp:
        for k, source in enumerate(SOURCES):
            clip = read_clip(data / source, max_side=384, max_seconds=10)
            other = read_clip(data / SOURCES[(k + 1) % len(SOURCES)], max_side=64, max_seconds=10)
            versions = {"natural": clip, "dub": replace_audio(clip, other.audio), "shift500ms": replace_audio(clip, clip.audio, 0.5)}
            row = {"clip": Path(source).stem, "dub_audio_from": Path(SOURCES[(k + 1) % len(SOURCES)]).stem}
            for kind, version in versions.items():
                path = write_clip(Path(tmp) / f"{kind}.mp4", version)
                media = load(path)
                subject = AnalysedMedia(media, analyse(media, max_faces=1, embed_every_s=None))
                result = lip_sync(subject.tracks[0], media.audio) if subject.tracks else None
                ev = create_detector("lip_sync").detect(subject)
                row[kind] = {"correlation": None if result is None else round(result.correlation, 3),
                             "lag_s": None if result is None else result.lag_s,
                             "score": round(ev.score, 3), "confidence": round(ev.confidence, 3)}  # fmt: skip
            rows.append(row)
            print(f"{row['clip']:22s} " + "  ".join(
                f"{kind} corr {row[kind]['correlation']} score {row[kind]['score']:.2f} conf {row[kind]['confidence']:.2f}"
                for kind in versions), flush=True)  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M:%S"), "rows": rows}, indent=1))
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
