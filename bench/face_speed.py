"""Speed of dflab.faces on a 10 s 720p clip: mesh + tracking per frame, embeddings, whole analyse().

Run: .venv/bin/python bench/face_speed.py [--frames 300] [--repeats 3]
Prints a table and writes bench/results/face_speed.json. Uses the FF++ 720p clip 004.mp4 from the
shared data (one presenter, 25 fps) and, for the multi-face case, the 640x360 Hamilton clip; without
the shared data it pans skimage's astronaut photo across a 720p canvas instead.
Wall times on a shared machine vary with load: the load average is recorded next to each number, and
CPU seconds (all threads of this process) are given as a load-independent companion.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from dflab.media.types import Frame, Media

RESULTS = Path(__file__).resolve().parent / "results" / "face_speed.json"
SHARED = Path(os.environ.get("DFLAB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CLIP_720P = SHARED / "ffpp" / "original_sequences" / "youtube" / "c23" / "videos" / "004.mp4"
CLIP_MULTI = SHARED / "face_recognition" / "examples" / "short_hamilton_clip.mp4"


def decode(path: Path, max_frames: int) -> Media:
    import av

    frames: list[Frame] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        for frame in container.decode(stream):
            frames.append(Frame(len(frames), float(frame.time), frame.to_ndarray(format="rgb24")))
            if len(frames) >= max_frames:
                break
    h, w = frames[0].rgb.shape[:2]
    return Media(path, "video", frames, fps, frames[-1].time_s, w, h)


def synthetic_720p(n: int) -> Media:
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut(), (400, 400))
    frames = []
    for i in range(n):
        canvas = np.full((720, 1280, 3), 40, np.uint8)
        x = 200 + int(300 * np.sin(i / 40))
        canvas[160:560, x : x + 400] = face
        frames.append(Frame(i, i / 30, canvas))
    return Media(Path("astronaut-pan"), "video", frames, 30.0, (n - 1) / 30, 1280, 720)


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def per_frame_ms(media: Media) -> dict:
    """Face finding alone (FaceMesh tracking + periodic detector + cut test), per frame."""
    from dflab.faces.detect import VideoFaceFinder
    from dflab.faces.shots import is_cut, thumbnail

    times, faces, previous = [], 0, None
    cpu0 = time.process_time()
    with VideoFaceFinder(4) as finder:
        for frame in media.frames:
            t0 = time.perf_counter()
            thumb = thumbnail(frame.rgb)
            found = finder(frame.rgb, frame.time_s, cut=is_cut(previous, thumb))
            previous = thumb
            times.append((time.perf_counter() - t0) * 1000)
            faces += len(found)
    cpu_ms = (time.process_time() - cpu0) * 1000 / len(media.frames)
    return {
        "median_ms": round(statistics.median(times), 2),
        "mean_ms": round(statistics.fmean(times), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        "cpu_ms_per_frame": round(cpu_ms, 2),
        "faces_per_frame": round(faces / len(media.frames), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from dflab.faces import analyse, embed
    from dflab.faces import models

    media = decode(CLIP_720P, args.frames) if CLIP_720P.is_file() else synthetic_720p(args.frames)
    label = f"{media.path.name} {media.width}x{media.height} {len(media.frames)} frames"

    _, load_s, _ = timed(lambda: (models.model("detector"), models.model("crop_mesh"), models.model("dlib_shape5"), models.model("dlib_encoder"), models.new_video_mesh(4).close()))
    rows = [("model load (cold, once per process)", f"{load_s:.2f} s", "")]

    finder = per_frame_ms(media)
    rows.append((f"find faces per frame, {label}", f"{finder['median_ms']:.2f} ms median", f"mean {finder['mean_ms']:.2f}, p95 {finder['p95_ms']:.2f}, CPU {finder['cpu_ms_per_frame']:.2f} ms"))

    rgb = media.frames[0].rgb
    track = analyse(Media(media.path, "image", media.frames[:1], 0.0, 0.0, media.width, media.height), embed_every_s=None)
    box = track[0].observations[0].box if track else (500, 150, 780, 480)
    embed(rgb, box)
    embed_ms = []
    for _ in range(10):
        _, wall, _ = timed(lambda: embed(rgb, box))
        embed_ms.append(wall * 1000)
    rows.append(("identity embedding (dlib 128-d)", f"{statistics.median(embed_ms):.1f} ms median", f"min {min(embed_ms):.1f}"))

    totals, cpus, n_tracks, n_embeddings = [], [], 0, 0
    for _ in range(args.repeats):
        tracks, wall, cpu = timed(lambda: analyse(media))
        totals.append(wall)
        cpus.append(cpu)
        n_tracks, n_embeddings = len(tracks), sum(len(t.embeddings) for t in tracks)
    rows.append((f"analyse() total, {label}", f"{min(totals):.2f} s best", f"median {statistics.median(totals):.2f} s, CPU {statistics.median(cpus):.2f} s, {n_tracks} track(s), {n_embeddings} embeddings"))

    multi = None
    if CLIP_MULTI.is_file():
        multi_media = decode(CLIP_MULTI, args.frames)
        multi = per_frame_ms(multi_media)
        rows.append((f"find faces per frame, {CLIP_MULTI.name} (multi-face, cuts)", f"{multi['median_ms']:.2f} ms median", f"mean {multi['mean_ms']:.2f}, {multi['faces_per_frame']} faces/frame"))

    load_avg = os.getloadavg()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>20}  notes")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>20}  {note}")
    print(f"(load average {load_avg[0]:.1f} on {os.cpu_count()} cores)")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "clip": label,
        "model_load_s": round(load_s, 3),
        "find_faces_720p": finder,
        "embedding_ms_median": round(statistics.median(embed_ms), 2),
        "analyse_total_s": {"best": round(min(totals), 3), "median": round(statistics.median(totals), 3), "cpu_s": round(statistics.median(cpus), 3)},
        "tracks": n_tracks,
        "embeddings": n_embeddings,
        "find_faces_multi_face_clip": multi,
        "load_average_1min": round(load_avg[0], 2),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
    }
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, RESULTS)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
