"""Playback speed of clips longer than 20 s, which a scan analyses at a few frames a second.

    .venv/bin/python bench/speed_long_clips.py [--sources 8] [--dir DIR]

A scan keeps every frame of a clip up to 20 s; a longer one is analysed at 10 frames a second
(SamplingPolicy), which hides the frame-to-frame pattern a re-timing leaves (repeated or dropped frames). The
scan now also keeps a grey thumbnail of every decoded frame of a long clip's start, made from the decoder's luma
plane (media/frame_store.py, `consecutive_run`), and reads re-timing on its first 20 s whatever the length. This
bench scans the same clips with that run ("run") and without it ("sampled only": the scan as it was before),
each time with the speed and cut detectors only, and reads the speed_changed finding.

Clips: the first SOURCES of the LivePortrait driving and source clips and FaceForensics++ originals below, each
looped (ffmpeg -stream_loop, no re-timing: the joins are cuts) until it lasts at least 24 s, then re-timed at
an unchanged frame rate by `setpts` + `fps` with the sound stretched by `atempo` (pitch kept) at 0.75x, 1.25x
and 1.5x; the natural loop and its 0.75x copy also without their sound. A copy sped up to under 20 s is analysed
whole either way (the two modes then agree). Nothing is fitted on these.

Reported per variant: the finding flagged (suspicious or worse), called manipulated, its factor within 5 % of
the truth, its factor on the wrong side of 1; for natural clips, flagged. Also the cost of the run: CPU seconds of
decoding a 60 s 720p clip as the scan does, with and without it.
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, require_shared_data, write_results  # noqa: E402

SOURCES = [  # (path under ../shared/data, has sound)
    ("liveportrait/assets/examples/driving/d14.mp4", True),
    ("liveportrait/assets/examples/source/s18.mp4", True),
    ("ffpp/original_sequences/youtube/c23/videos/004.mp4", False),
    ("liveportrait/assets/examples/driving/d3.mp4", True),
    ("liveportrait/assets/examples/driving/d10.mp4", True),
    ("liveportrait/assets/examples/source/s32.mp4", True),
    ("ffpp/original_sequences/youtube/c23/videos/634.mp4", False),
    ("liveportrait/assets/examples/driving/d13.mp4", True),
    ("liveportrait/assets/examples/driving/d9.mp4", True),
    ("face_recognition/examples/short_hamilton_clip.mp4", True),
]
FACTORS = (0.75, 1.25, 1.5)
MIN_S = 24.0
WITHIN = 0.05


def _ffmpeg(*args: str) -> None:
    if Path(args[-1]).exists():  # built by an earlier run into the same --dir
        return
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def build(data: Path, out: Path, n_sources: int) -> list[dict]:
    from dflab.media import probe
    from dflab.train.speed_av_testset import filters  # the audio-video speed test set's re-timing

    clips = []
    for rel, sound in SOURCES[:n_sources]:
        src = data / rel
        info = probe(src)
        fps = float(info["fps"])
        loops = max(0, math.ceil(MIN_S / float(info["duration"])) - 1)
        name = src.stem
        natural = out / f"{name}-natural.mp4"
        audio = ["-c:a", "aac"] if sound else ["-an"]
        _ffmpeg("-stream_loop", str(loops), "-i", str(src), "-c:v", "libx264", "-crf", "20", *audio, str(natural))
        clips.append({"source": name, "variant": "natural", "factor": 1.0, "sound": sound, "path": natural})
        for factor in FACTORS:
            path = out / f"{name}-{factor:g}x.mp4"
            video, audio = filters("retime", factor, fps)
            sound_args = ["-af", audio, "-c:a", "aac"] if sound else ["-an"]
            _ffmpeg("-i", str(natural), "-vf", video, "-c:v", "libx264", "-crf", "20", *sound_args, str(path))
            clips.append({"source": name, "variant": f"{factor:g}x", "factor": factor, "sound": sound, "path": path})
        if sound:
            for variant, factor in (("natural", 1.0), ("0.75x", 0.75)):
                path = out / f"{name}-{variant}-silent.mp4"
                _ffmpeg("-i", str(out / f"{name}-{variant}.mp4"), "-c:v", "copy", "-an", str(path))
                clips.append({"source": name, "variant": f"{variant}, silent", "factor": factor, "sound": False,
                              "path": path})
    return clips


def scan_speed(path: Path, with_run: bool) -> dict:
    import dflab.detect.scan as scan
    from dflab.detect.scan import ScanOptions, scan_file

    original = scan.grey_run_side
    if not with_run:
        scan.grey_run_side = lambda: 0
    try:
        result = scan_file(path, ScanOptions(detectors=["speed", "cuts"]))
    finally:
        scan.grey_run_side = original
    finding = next(f for f in result.findings if f.name == "speed_changed")
    factor = finding.details.get("speed_factor") if finding.verdict != "not_applicable" else None
    return {"verdict": finding.verdict, "p": finding.score, "factor": factor}


def summarise(clips: list[dict], mode: str) -> list[dict]:
    rows = []
    for variant in dict.fromkeys(c["variant"] for c in clips):
        group = [c for c in clips if c["variant"] == variant]
        readings = [c[mode] for c in group]
        flagged = sum(r["verdict"] in ("suspicious", "manipulated") for r in readings)
        row = {"variant": variant, "mode": mode, "clips": len(group), "flagged": flagged,
               "manipulated": sum(r["verdict"] == "manipulated" for r in readings)}
        if group[0]["factor"] != 1.0:
            truth = group[0]["factor"]
            row["within_5pct"] = sum(r["factor"] is not None and abs(r["factor"] / truth - 1) <= WITHIN
                                     and r["verdict"] != "authentic" for r in readings)
            row["wrong_side"] = sum(r["factor"] is not None and r["verdict"] != "authentic"
                                    and (r["factor"] - 1) * (truth - 1) < 0 for r in readings)
        rows.append(row)
    return rows


def decode_cost(data: Path, out: Path) -> dict:
    """CPU seconds of the scan's decode of a 60 s 720p clip, with and without the run (3 runs each)."""
    from dflab.detect.scan import grey_run_side, streamed_frame_features
    from dflab.media import load

    clip = out / "s18-60s.mp4"
    _ffmpeg("-stream_loop", "6", "-i", str(data / SOURCES[1][0]), "-t", "60", "-c:v", "libx264", "-crf", "20",
            "-an", str(clip))
    cost = {}
    for label, side in (("sampled only", 0), ("run", grey_run_side())):
        times = []
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_SELF)
            media = load(clip, keep_frames=False, frame_features=streamed_frame_features(), grey_run=side)
            after = resource.getrusage(resource.RUSAGE_SELF)
            times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            media.frames.close()
        cost[label] = round(sorted(times)[1], 3)
    return cost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--dir", default=None, help="where to build the clips (default: a temporary folder)")
    args = parser.parse_args()
    data = require_shared_data()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.dir or tmp)
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        clips = build(data, out, args.sources)
        for clip in clips:
            clip["run"] = scan_speed(clip["path"], True)
            clip["sampled only"] = scan_speed(clip["path"], False)
            print(f"{clip['path'].name:40s} run {clip['run']}  sampled only {clip['sampled only']}", flush=True)
        cost = decode_cost(data, out)
    rows = summarise(clips, "sampled only") + summarise(clips, "run")
    rows.sort(key=lambda r: (list(dict.fromkeys(c["variant"] for c in clips)).index(r["variant"]), r["mode"] != "sampled only"))
    print_table(rows, ["variant", "mode", "clips", "flagged", "manipulated", "within_5pct", "wrong_side"])
    print(f"\ndecode of a 60 s 720p clip as a scan decodes it, CPU s (median of 3): {cost}")
    write_results("speed_long_clips", {
        "sources": [s for s, _ in SOURCES[: args.sources]], "rows": rows, "decode_cpu_s": cost,
        "clips": [{k: (v if k != "path" else v.name) for k, v in c.items()} for c in clips],
        "seconds": round(time.perf_counter() - started, 1),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
