"""Audio copies traced back to their registered originals (provenance registry, audio fingerprints).

    nice -n 10 .venv/bin/python bench/audio_trace.py [/tmp/dflab_speed_testset/manifest.csv]

The speed test set comes from `python -m dflab.train.speed_testset OUT` (not rebuilt here). A temporary
registry gets every base's natural clip (`original`, 10 s) and decoys: LibriSpeech utterances of ../shared/data
that no base of the set overlaps (a base spans 21 s of its speaker's concatenated utterances, since a 2x copy
consumes 20 s), every other one of them; the synthetic LJSpeech renderings of ljspeech_tts (the same five
sentences as the `lj` base in the same voice) of all TTS systems but two; every other LivePortrait driving clip
but d20 (videos: their soundtracks are fingerprinted). Then every other clip of the set (aac, mp3,
cut at 1.0x; stretch, atempo, resample at 0.5-2.0x) is traced: top-1 is right when the best match is its base's
original (a clip at factor f covers source [0, 10 f] s of its base; the original [0, 10] s). Never-registered
audio (the other half of the free utterances and of the LivePortrait clips, and the two held-out TTS systems'
renderings of the same sentences) must find nothing.

Timing: fingerprinting (decode + spectrum + quads) and lookup (SQLite hash lookups + votes + line fits) per
clip; the lookup grows with the registry, so it is also given per registered hour of audio.
Writes bench/results/audio_trace.json.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, require_shared_data, write_results

DEFAULT_MANIFEST = Path("/tmp/dflab_speed_testset/manifest.csv")
BASE_SPAN_S = 21.0  # dflab.train.speed_testset: bases start every 2 x CLIP_S + 1 s
HELD_OUT_TTS = ("tacotron2.v3", "transformer.v1")  # these systems' renderings are never registered


def free_utterances(data: Path, bases: dict[str, set[int]]) -> list[Path]:
    """LibriSpeech files of ../shared/data that lie outside every base span of their speaker."""
    import soundfile as sf

    free = []
    for speaker_dir in sorted(p for p in (data / "librispeech").iterdir() if p.is_dir()):
        start = 0.0
        spans = [(b * BASE_SPAN_S, (b + 1) * BASE_SPAN_S) for b in bases.get(speaker_dir.name, set())]
        for path in sorted(speaker_dir.glob("*.flac")):
            length = sf.info(path).duration
            if not any(start < hi and start + length > lo for lo, hi in spans):
                free.append(path)
            start += length
    return free


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", nargs="?", type=Path, default=DEFAULT_MANIFEST)
    args = parser.parse_args(argv)
    data = require_shared_data()
    if not args.manifest.exists():
        print(f"{args.manifest} not found: build the speed test set (python -m dflab.train.speed_testset OUT)",
              file=sys.stderr)
        return 2
    os.environ["DFLAB_HOME"] = tempfile.mkdtemp(prefix="dflab_audio_trace_")  # the ledger too stays temporary
    from dflab.provenance.registry import open_registry
    from dflab.provenance.registry.audio_trace import MIN_VOTES, file_quads, lookup

    root = args.manifest.parent
    rows = list(csv.DictReader(args.manifest.open()))
    originals = {r["path"].rsplit("_", 2)[0]: root / r["path"] for r in rows if r["method"] == "original"}
    bases: dict[str, set[int]] = defaultdict(set)
    for base in originals:
        speaker, index = base.split("/")[0], int(base.rsplit("_b", 1)[1])
        bases[speaker].add(index)
    free = free_utterances(data, bases)
    tts = sorted((data / "ljspeech_tts").rglob("*.wav"))
    tts = [p for p in tts if "ground_truth" not in p.parts]
    held_out = [p for p in tts if p.parts[-3] in HELD_OUT_TTS]
    clips = sorted((data / "liveportrait/assets/examples/driving").glob("d*.mp4"))
    clips = [p for p in clips if p.stem != "d20"]  # d20's audio is a base of the speed test set
    decoys = free[0::2] + [p for p in tts if p not in held_out] + clips[0::2]
    unregistered = free[1::2] + held_out + clips[1::2]

    with open_registry(Path(os.environ["DFLAB_HOME"]) / "registry") as registry:
        t0 = time.perf_counter()
        record_of = {base: registry.register(path)["record"] for base, path in originals.items()}
        for path in decoys:
            registry.register(path)
        register_s = time.perf_counter() - t0
        stats = registry.stats()
        hours = stats["audio_hours"]
        print(f"registered {len(originals)} originals + {len(decoys)} decoys: {hours * 60:.1f} min of audio, "
              f"{stats['audio_hashes']} audio hashes, {register_s:.1f} s")  # fmt: skip

        def trace(path: Path):
            t1 = time.perf_counter()
            quads, _ = file_quads(path)
            t2 = time.perf_counter()
            matches, hits = lookup(registry.store, quads, min_votes=2)  # raw scores; MIN_VOTES applied below
            t3 = time.perf_counter()
            return matches, hits, t2 - t1, t3 - t2

        per_cell: dict[tuple[str, str], list[bool]] = defaultdict(list)
        factor_err, true_votes, other_votes, fp_times, lk_times, hit_counts = [], [], [], [], [], []
        misses = []
        for row in rows:
            if row["method"] == "original":
                continue
            base = row["path"].rsplit("_", 2)[0]
            matches, hits, fp_s, lk_s = trace(root / row["path"])
            fp_times.append(fp_s)
            lk_times.append(lk_s)
            hit_counts.append(hits)
            reported = [m for m in matches if m.votes >= MIN_VOTES]
            right = bool(reported) and reported[0].record == record_of[base]
            per_cell[(row["method"], row["factor"])].append(right)
            truth = next((m for m in matches if m.record == record_of[base]), None)
            true_votes.append(truth.votes if truth else 0)
            other_votes.append(max((m.votes for m in matches if m.record != record_of[base]), default=0))
            if right and reported[0].mapping.speed is not None:
                factor_err.append(abs(reported[0].mapping.speed / float(row["factor"]) - 1.0))
            if not right:
                misses.append({"path": row["path"], "true_votes": true_votes[-1], "best_other": other_votes[-1]})
        false_matches, unreg_top = 0, []
        from dflab.errors import Unsupported

        for path in unregistered:
            try:
                matches, hits, fp_s, lk_s = trace(path)
            except Unsupported:  # a silent soundtrack has no fingerprint
                continue
            fp_times.append(fp_s)
            lk_times.append(lk_s)
            unreg_top.append(max((m.votes for m in matches), default=0))
            false_matches += any(m.votes >= MIN_VOTES for m in matches)

    table = []
    for (method, factor), oks in sorted(per_cell.items()):
        table.append({"method": method, "factor": factor, "clips": len(oks), "top1": sum(oks),
                      "top1_pct": round(100.0 * sum(oks) / len(oks), 1)})  # fmt: skip
    groups = {
        "re-encoded or cut (aac, mp3, cut)": ("aac", "mp3", "cut"),
        "pitch kept (stretch, atempo)": ("stretch", "atempo"),
        "tape-style (resample)": ("resample",),
    }
    summary = []
    for name, methods in groups.items():
        oks = [ok for (m, _), v in per_cell.items() if m in methods for ok in v]
        summary.append({"group": name, "clips": len(oks), "top1": sum(oks), "top1_pct": round(100.0 * sum(oks) / len(oks), 1)})
    oks = [ok for v in per_cell.values() for ok in v]
    summary.append({"group": "all", "clips": len(oks), "top1": sum(oks), "top1_pct": round(100.0 * sum(oks) / len(oks), 1)})
    print_table(table, ["method", "factor", "clips", "top1", "top1_pct"])
    print()
    print_table(summary, ["group", "clips", "top1", "top1_pct"])
    lookup_ms = 1000 * float(np.mean(lk_times))
    timing = {
        "fingerprint_ms_per_clip_median": round(1000 * float(np.median(fp_times)), 1),
        "lookup_ms_per_clip_median": round(1000 * float(np.median(lk_times)), 1),
        "lookup_ms_per_clip_mean": round(lookup_ms, 1),
        "lookup_ms_per_clip_per_registered_hour": round(lookup_ms / max(hours, 1e-9), 1),
        "hits_per_clip_median": int(np.median(hit_counts)),
        "register_s": round(register_s, 1),
    }
    print(f"\nnever registered: {len(unreg_top)} files with sound, {false_matches} false matches "
          f"(highest score {max(unreg_top)}; reported from {MIN_VOTES} votes on)")  # fmt: skip
    print(f"true-record votes: median {int(np.median(true_votes))}, 5th percentile {np.percentile(true_votes, 5):.0f}; "
          f"best wrong record: max {max(other_votes)}")  # fmt: skip
    if factor_err:
        print(f"speed factor of right top-1 matches: median error {100 * np.median(factor_err):.2f} %, "
              f"within 2 %: {np.mean(np.array(factor_err) <= 0.02) * 100:.1f} %")  # fmt: skip
    print("timing:", timing)
    write_results("audio_trace", {
        "manifest": str(args.manifest), "originals": len(originals), "decoys": len(decoys),
        "registered_hours": hours, "audio_hashes": stats["audio_hashes"], "min_votes": MIN_VOTES,
        "per_method_factor": table, "summary": summary,
        "unregistered": {"files": len(unreg_top), "false_matches": false_matches, "top_scores": unreg_top},
        "true_votes_median": int(np.median(true_votes)), "wrong_record_votes_max": int(max(other_votes)),
        "factor_error_median": float(np.median(factor_err)) if factor_err else None,
        "timing": timing, "misses": misses,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
