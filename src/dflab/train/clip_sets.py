"""What the video speed test-set builders (video_speed_testset.py, speed_av_testset.py) share: probing a source,
the variants one source yields, and the manifest they write."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from dflab.atomic import atomic_output
from dflab.errors import UsageError

CLIP_S = 10.0
MIN_CLIP_S = 3.0  # shorter outputs are skipped (a 2x speed-up of a 5 s source)


def probe_video(path: Path) -> tuple[float, int]:
    """(frame rate, frame count) of the first video stream."""
    from dflab.media import probe

    info = probe(path)
    fps = float(info.get("fps") or 0.0)
    frames = int(info.get("frames") or round(float(info.get("duration") or 0.0) * fps))
    if fps <= 0 or frames <= 0:
        raise UsageError(f"{path}: no frame rate or frame count in the video stream")
    return fps, frames


def variants(fps: float, frames: int, factors: Sequence[float], methods: Sequence[str],
             retime_methods: Sequence[str]) -> Iterator[tuple[str, float, float]]:  # fmt: skip
    """(method, factor, output seconds) for one source of `frames` frames at `fps`: every factor for a re-timing
    method, 1.0 for a natural one, each at most CLIP_S long and skipped when shorter than MIN_CLIP_S."""
    duration = frames / fps
    for method in methods:
        for factor in (factors if method in retime_methods else (1.0,)):
            out_s = min(CLIP_S, duration / factor - 1.0 / fps)
            if out_s >= MIN_CLIP_S:
                yield method, factor, out_s


def write_manifest(out_dir: Path, rows: list[dict], columns: Sequence[str]) -> Path:
    """OUTDIR/manifest.csv, written atomically."""
    manifest = out_dir / "manifest.csv"
    with atomic_output(manifest) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return manifest
