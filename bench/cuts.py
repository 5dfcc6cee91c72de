"""Cut-detection benchmark on a test set built from real clips in ../shared/data.

    .venv/bin/python bench/cuts.py            # ~14 sources, 3 variants each (a few minutes on 2 cores)
    .venv/bin/python bench/cuts.py --quick    # 5 sources
    .venv/bin/python bench/cuts.py --seed 11 --cuts-per-source 3 --out /tmp/cuts_dev.json   # development set

The fixed default (seed 6, one cut per source) is the reported figure; tune on other seeds with several cuts per
source, so that the thresholds are not fitted to the default's 16 cuts.

For every source clip (first 12 s, at most 512 px): `reencoded` (H.264+AAC again, a negative), `cut` (a piece
of 0.5-2 s removed from the middle, video and audio at the same instant, then re-encoded: one jump cut) and
`concat` (its first 5 s followed by the next source's first 5 s: one hard cut). Each file is decoded like
`dflab scan` does, faces are tracked, and dflab.shallow.cuts.find_cuts runs on it.

A detection counts when it is within TOLERANCE_S of a true cut. True cuts are the inserted one plus the cuts
that are already in the source footage (NATIVE_CUTS, checked by looking at the frames). The report gives the
detection rate of inserted cuts (any type reported, and audio-only detection separately), false cuts per
minute on all files and on the re-encoded-only ones, the timing error, and milliseconds per second of video
(find_cuts alone, and the face tracking that the scan does anyway). Writes bench/results/cuts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "cuts.json"
TOLERANCE_S = 0.1
MAX_SECONDS = 12.0
DRIVING = "liveportrait/assets/examples/driving/"
SOURCES = [
    DRIVING + f"{name}.mp4" for name in ("d3", "d6", "d9", "d10", "d11", "d12", "d14", "d18", "d19", "d20", "d0", "d13")
] + [
    "ffpp/original_sequences/youtube/c23/videos/004.mp4",
    "ffpp/original_sequences/youtube/c23/videos/634.mp4",
    "ffpp/original_sequences/youtube/c23/videos/519.mp4",
    "face_recognition/examples/short_hamilton_clip.mp4",
]
# Cuts already present in the untouched footage (seconds), verified by viewing the frames around them.
NATIVE_CUTS = {
    DRIVING + "d14.mp4": [3.2],  # a jump cut: head and background bottle shift between two frames
    DRIVING + "d20.mp4": [0.04],  # the first frame belongs to another take
    "face_recognition/examples/short_hamilton_clip.mp4": [20 / 29.97, 82 / 29.97, 211 / 29.97],  # hard cuts
}


def shared_data() -> Path:
    path = Path(os.environ.get("DFLAB_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        sys.exit(f"shared data not found at {path} (set DFLAB_SHARED_DATA)")
    return path


def build_cases(data: Path, sources: list[str], out: Path, rng: np.random.Generator, cuts_per_source: int = 1) -> list[dict]:
    from dflab.train.edits import concatenate, read_clip, remove_span, write_clip

    cases = []
    for k, source in enumerate(sources):
        clip = read_clip(data / source, max_side=512, max_seconds=MAX_SECONDS)
        native = NATIVE_CUTS.get(source, [])
        stem = Path(source).stem
        path = write_clip(out / f"{stem}_reencoded.mp4", clip)
        cases.append({"source": source, "variant": "reencoded", "path": path, "inserted": [], "native": native})
        for j in range(cuts_per_source):  # the first draw is the same as with one cut per source
            length = float(rng.uniform(0.5, 2.0))
            start = float(rng.uniform(0.3, 0.7) * (clip.duration_s - length))
            start = round(start * clip.fps) / clip.fps
            edited = remove_span(clip, start, start + length)
            removed = (round((start + length) * clip.fps) - round(start * clip.fps)) / clip.fps
            shifted = [t if t < start else t - removed for t in native if not start <= t < start + removed]
            path = write_clip(out / f"{stem}_cut{'' if j == 0 else j}.mp4", edited)
            cases.append({"source": source, "variant": "cut", "path": path, "inserted": [start], "native": shifted,
                          "removed_s": round(removed, 3)})  # fmt: skip
            del edited
        head = read_clip(data / source, max_side=512, max_seconds=5.0)
        tail = read_clip(data / sources[(k + 1) % len(sources)], max_side=512, max_seconds=5.0)
        joined = concatenate(head, tail)
        path = write_clip(out / f"{stem}_concat.mp4", joined)
        second_native = [head.duration_s + t for t in NATIVE_CUTS.get(sources[(k + 1) % len(sources)], []) if t < 5.0]
        cases.append({"source": source, "variant": "concat", "path": path, "inserted": [head.duration_s],
                      "native": [t for t in native if t < 5.0] + second_native})  # fmt: skip
        del clip, joined, head, tail
    return cases


def evaluate(case: dict) -> dict:
    from dflab.faces import analyse
    from dflab.media import load
    from dflab.shallow.cuts import find_cuts

    media = load(case["path"])
    started = time.perf_counter()
    tracks = analyse(media, max_faces=2, embed_every_s=None)
    face_s = time.perf_counter() - started
    started = time.perf_counter()
    cuts, _ = find_cuts(media.frames, tracks, media.audio)
    cut_s = time.perf_counter() - started
    truth = case["inserted"] + case["native"]
    hits, errors, audio_hits = [], [], []
    for t in case["inserted"]:
        near = [c for c in cuts if abs(c.time_s - t) <= TOLERANCE_S]
        hits.append(bool(near))
        audio_hits.append(any(c.kind == "audio" or c.audio_z >= 6.0 for c in near))
        if near:
            errors.append(min(abs(c.time_s - t) for c in near))
    false = [c for c in cuts if all(abs(c.time_s - t) > TOLERANCE_S for t in truth)]
    return {
        "file": Path(case["path"]).name, "variant": case["variant"], "duration_s": round(media.duration_s, 2),
        "inserted": [round(t, 3) for t in case["inserted"]], "native": [round(t, 3) for t in case["native"]],
        "found": [c.to_json() for c in cuts], "hits": hits, "audio_hits": audio_hits, "timing_errors_s": errors,
        "false": [c.to_json() for c in false], "cut_ms_per_s": 1000 * cut_s / media.duration_s,
        "face_ms_per_s": 1000 * face_s / media.duration_s, "has_audio": media.audio is not None,
    }  # fmt: skip


def summarise(rows: list[dict]) -> dict:
    def rate(variant: str, key: str = "hits") -> tuple[float, int]:
        flags = [h for r in rows if r["variant"] == variant for h in r[key]]
        return (float(np.mean(flags)) if flags else float("nan")), len(flags)

    def false_per_min(variants: tuple[str, ...]) -> float:
        chosen = [r for r in rows if r["variant"] in variants]
        minutes = sum(r["duration_s"] for r in chosen) / 60.0
        return sum(len(r["false"]) for r in chosen) / minutes if minutes else float("nan")

    errors = [e for r in rows for e in r["timing_errors_s"]]
    with_audio = [r for r in rows if r["variant"] == "cut" and r["has_audio"]]
    return {
        "jump_cut_detection": rate("cut")[0], "jump_cuts": rate("cut")[1],
        "hard_cut_detection": rate("concat")[0], "hard_cuts": rate("concat")[1],
        "audio_confirmed_jump_cuts": float(np.mean([h for r in with_audio for h in r["audio_hits"]])) if with_audio else None,
        "jump_cuts_with_audio": len(with_audio),
        "false_cuts_per_min_reencoded": false_per_min(("reencoded",)),
        "false_cuts_per_min_all": false_per_min(("reencoded", "cut", "concat")),
        "timing_error_mean_s": float(np.mean(errors)) if errors else None,
        "timing_error_max_s": float(np.max(errors)) if errors else None,
        "cut_ms_per_s_video": float(np.mean([r["cut_ms_per_s"] for r in rows])),
        "face_ms_per_s_video": float(np.mean([r["face_ms_per_s"] for r in rows])),
        "minutes_of_video": round(sum(r["duration_s"] for r in rows) / 60.0, 2),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 sources instead of all")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--cuts-per-source", type=int, default=1, help="cut variants per source (development sets)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default bench/results/cuts.json)")
    args = parser.parse_args()
    data = shared_data()
    sources = SOURCES[:4] + SOURCES[-1:] if args.quick else SOURCES
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="dflab_cuts_") as tmp:
        cases = build_cases(data, sources, Path(tmp), rng, args.cuts_per_source)
        rows = [evaluate(case) for case in cases]
    print(f"{'file':28s} {'variant':9s} {'inserted':>9s} found (time type confidence)")
    for r in rows:
        found = ", ".join(f"{c['time_s']:.2f} {c['type']} {c['confidence']:.2f}" for c in r["found"]) or "-"
        inserted = ",".join(f"{t:.2f}" for t in r["inserted"]) or "-"
        print(f"{r['file']:28s} {r['variant']:9s} {inserted:>9s} {found}")
    summary = summarise(rows)
    print()
    for key, value in summary.items():
        print(f"{key:32s} {value:.3f}" if isinstance(value, float) else f"{key:32s} {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    args.out.write_text(json.dumps({"machine": machine, "seed": args.seed, "cuts_per_source": args.cuts_per_source,
                                    "tolerance_s": TOLERANCE_S, "summary": summary, "rows": rows}, indent=1, default=str))  # fmt: skip
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
