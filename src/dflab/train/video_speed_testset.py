"""The video speed test set: real footage from ../shared/data re-timed by ffmpeg at an unchanged frame rate.

    python -m dflab.train.video_speed_testset OUTDIR [--data DIR] [--max-side N]

writes OUTDIR/<source>/<source>_<method>_<factor>.mp4 (video only, H.264) and OUTDIR/manifest.csv with the
columns path,source,group,method,factor,fps,frames. Sources: the LivePortrait driving clips (group
"liveportrait") and the FaceForensics++ c23 clips, real and manipulated (group "ffpp"; their motion is real
footage). Every clip starts at the source's first frame, is scaled so its longer side is at most 320 px and lasts
min(10 s, source duration / factor). Methods:

    original   the clip as decoded (factor 1.0), x264 crf 18
    reencode   scaled to 2/3 and x264 crf 34 (factor 1.0): codec noise must not read as re-timing
    repeat     nearest-frame re-timing: ffmpeg `setpts=PTS/r,fps=FPS` (slowing repeats frames, speeding up drops them)
    blend      frame blending: ffmpeg `setpts=PTS/r,framerate=fps=FPS` (each frame a weighted mean of two neighbours)
    fpsconv    no re-timing, the frame rate converted by the `fps` filter (25 -> 30 or 30 -> 25 fps; factor 1.0): its
               repeats (25 -> 30: one in six) or drops (30 -> 25) are the patterns of 0.833x and 1.2x, so the
               frames alone cannot tell it from re-timing (reported as its own row)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dflab.atomic import atomic_output
from dflab.errors import UsageError
from dflab.train.clip_sets import probe_video, variants, write_manifest
from dflab.train.speed_testset import _ffmpeg, default_data_dir

FACTORS = (0.5, 0.75, 0.9, 1.1, 1.25, 1.5, 2.0)
RETIME_METHODS = ("repeat", "blend")
NATURAL_METHODS = ("original", "reencode", "fpsconv")
MAX_SIDE = 320
COLUMNS = ["path", "source", "group", "method", "factor", "fps", "frames"]


def collect_sources(data: Path) -> list[tuple[str, str, Path]]:
    """(name, group, path) of every real-motion clip: LivePortrait driving clips, FF++ real and manipulated."""
    driving = sorted((data / "liveportrait/assets/examples/driving").glob("d*.mp4"), key=lambda p: int(p.stem[1:]))
    ffpp = sorted((data / "ffpp").glob("*_sequences/*/c23/videos/*.mp4"))
    sources = [(f"lp_{p.stem}", "liveportrait", p) for p in driving]
    kind = {"youtube": "original"}  # original_sequences/youtube/c23/videos/519.mp4 -> ffpp_original_519
    sources += [(f"ffpp_{kind.get(p.parts[-4], p.parts[-4])}_{p.stem}", "ffpp", p) for p in ffpp]
    return sources


def retime_filter(method: str, factor: float, fps: float, max_side: int = MAX_SIDE) -> str:
    """The ffmpeg -vf chain for one variant (scale first: every later step works on small frames)."""
    scale = f"scale='2*trunc(min(1,{max_side}/max(iw,ih))*iw/2)':'2*trunc(min(1,{max_side}/max(iw,ih))*ih/2)'"
    if method == "original":
        return scale
    if method == "reencode":
        return scale + ",scale='2*trunc(iw/3)':'2*trunc(ih/3)'"
    if method == "fpsconv":
        return scale + f",fps={30 if round(fps) == 25 else 25}"
    if method == "repeat":
        return scale + f",setpts=PTS/{factor},fps={fps:g}"
    if method == "blend":
        return scale + f",setpts=PTS/{factor},framerate=fps={fps:g}"
    raise UsageError(f"unknown video speed method {method!r}")


def make_variant(src: Path, dst: Path, method: str, factor: float, fps: float, out_s: float,
                 max_side: int = MAX_SIDE) -> None:
    """One re-timed (or natural) clip, H.264 without audio; atomic."""
    crf = "34" if method == "reencode" else "18"
    in_s = out_s * factor + 2.0 / fps  # enough source for out_s of output
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dst) as tmp:
        _ffmpeg(["-t", f"{in_s:.3f}", "-i", str(src), "-an", "-vf", retime_filter(method, factor, fps, max_side),
                 "-t", f"{out_s:.3f}", "-c:v", "libx264", "-preset", "veryfast", "-crf", crf, "-pix_fmt", "yuv420p",
                 "-f", "mp4", str(tmp)])  # fmt: skip


def build_testset(out_dir: str | Path, data: str | Path, factors=FACTORS, methods=NATURAL_METHODS + RETIME_METHODS,
                  sources: list[str] | None = None, max_side: int = MAX_SIDE, progress: bool = False) -> Path:
    """Write the clips and OUTDIR/manifest.csv; returns the manifest path. `sources` picks names from
    collect_sources (all by default)."""
    out_dir, data = Path(out_dir), Path(data)
    if not (data / "liveportrait").is_dir() or not (data / "ffpp").is_dir():
        raise UsageError(f"{data} does not look like the shared data folder (no liveportrait/ and ffpp/ inside)")
    chosen = [s for s in collect_sources(data) if sources is None or s[0] in sources]
    if not chosen:
        raise UsageError(f"none of the sources {sources} is in {data}")
    rows = []
    for name, group, path in chosen:
        fps, frames = probe_video(path)
        for method, factor, out_s in variants(fps, frames, factors, methods, RETIME_METHODS):
            rel = Path(name) / f"{name}_{method}_{factor:.2f}.mp4"
            make_variant(path, out_dir / rel, method, factor, fps, out_s, max_side)
            out_fps = (30 if round(fps) == 25 else 25) if method == "fpsconv" else fps
            rows.append({"path": rel.as_posix(), "source": name, "group": group, "method": method,
                         "factor": f"{factor:.2f}", "fps": f"{out_fps:g}", "frames": round(out_s * out_fps)})
        if progress:
            print(f"video speed test set: {name} done ({len(rows)} clips)", file=sys.stderr)
    return write_manifest(out_dir, rows, COLUMNS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflab.train.video_speed_testset",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", metavar="OUTDIR")
    parser.add_argument("--data", default=None, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--max-side", type=int, default=MAX_SIDE, help=f"longer side of the clips (default {MAX_SIDE})")
    args = parser.parse_args(argv)
    try:
        manifest = build_testset(args.out_dir, args.data or default_data_dir(), max_side=args.max_side, progress=True)
    except UsageError as exc:
        print(f"video_speed_testset: error: {exc}", file=sys.stderr)
        return 2
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
