"""The audio-video speed test set: LivePortrait clips WITH their audio, re-timed as an editor or ffmpeg does.

    python -m dflab.train.speed_av_testset OUTDIR [--data DIR]

writes OUTDIR/<source>/<source>_<method>_<factor>.mp4 (H.264 + AAC) and OUTDIR/manifest.csv with the columns
path,source,method,factor,fps,frames. Sources: the LivePortrait driving clips that carry an audio track (the
speed cue is judged on what it sees in a scan: frames and sound together). Every clip starts at the source's
first frame, keeps the source's size and lasts min(10 s, source duration / factor). Methods:

    original   re-encoded as is (x264 crf 18, AAC 128k; factor 1.0)
    reencode   scaled to 2/3, x264 crf 34, AAC 64k (factor 1.0)
    resize     scaled to 360 px on the longer side, x264 crf 28, audio resampled to 48 kHz (factor 1.0)
    fpsconv    the frame rate converted by the `fps` filter (30 -> 25, 25 -> 30; factor 1.0)
    fps24      the frame rate converted to 24 fps (factor 1.0): a 30/24 ratio, not a speed change
    fps60      the frame rate converted to 60 fps (factor 1.0): footage converted as shot (d6: 25 fps pictures in a
               30 fps file) then composes two conversions, a pattern no single ratio gives
    retime     the speed changed at an unchanged frame rate: ffmpeg `setpts=PTS/r,fps=FPS` for the pictures
               (slowing repeats frames, speeding up drops them) and `atempo=r` for the sound (pitch kept)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dflab.atomic import atomic_output
from dflab.errors import UsageError
from dflab.train.clip_sets import probe_video, variants, write_manifest
from dflab.train.speed_testset import _ffmpeg, default_data_dir

FACTORS = (0.75, 1.25, 1.5)
NATURAL_METHODS = ("original", "reencode", "resize", "fpsconv", "fps24", "fps60")
RETIME_METHODS = ("retime",)
COLUMNS = ["path", "source", "method", "factor", "fps", "frames"]


def collect_sources(data: Path) -> list[tuple[str, Path]]:
    """(name, path) of every LivePortrait driving clip with an audio track."""
    from dflab.media import probe

    driving = sorted((data / "liveportrait/assets/examples/driving").glob("d*.mp4"), key=lambda p: int(p.stem[1:]))
    return [(f"lp_{p.stem}", p) for p in driving if probe(p).get("has_audio")]


def _out_fps(method: str, fps: float) -> float:
    if method == "fpsconv":
        return 30.0 if round(fps) == 25 else 25.0
    if method in ("fps24", "fps60"):
        return float(method[3:])
    return fps


def filters(method: str, factor: float, fps: float) -> tuple[str, str]:
    """(video filter chain, audio filter chain) of one variant."""
    even = "scale='2*trunc(iw/2)':'2*trunc(ih/2)'"
    if method == "original":
        return even, "anull"
    if method == "reencode":
        return "scale='2*trunc(iw/3)':'2*trunc(ih/3)'", "anull"
    if method == "resize":
        return "scale='2*trunc(min(1,360/max(iw,ih))*iw/2)':'2*trunc(min(1,360/max(iw,ih))*ih/2)'", "aresample=48000"
    if method in ("fpsconv", "fps24", "fps60"):
        return even + f",fps={_out_fps(method, fps):g}", "anull"
    if method == "retime":
        return even + f",setpts=PTS/{factor},fps={fps:g}", f"atempo={factor}"
    raise UsageError(f"unknown speed method {method!r}")


def make_variant(src: Path, dst: Path, method: str, factor: float, fps: float, out_s: float) -> None:
    """One variant, H.264 + AAC; atomic."""
    video, audio = filters(method, factor, fps)
    crf = {"reencode": "34", "resize": "28"}.get(method, "18")
    bitrate = "64k" if method == "reencode" else "128k"
    in_s = out_s * factor + 2.0 / fps
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dst) as tmp:
        _ffmpeg(["-t", f"{in_s:.3f}", "-i", str(src), "-filter_complex", f"[0:v]{video}[v];[0:a]{audio}[a]",
                 "-map", "[v]", "-map", "[a]", "-t", f"{out_s:.3f}", "-c:v", "libx264", "-preset", "veryfast",
                 "-crf", crf, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", bitrate, "-f", "mp4", str(tmp)])  # fmt: skip


def build_testset(out_dir: str | Path, data: str | Path, factors=FACTORS, methods=NATURAL_METHODS + RETIME_METHODS,
                  sources: list[str] | None = None, progress: bool = False) -> Path:
    """Write the clips and OUTDIR/manifest.csv; returns the manifest path. `sources` picks names (lp_d3, ...)."""
    out_dir, data = Path(out_dir), Path(data)
    if not (data / "liveportrait").is_dir():
        raise UsageError(f"{data} does not look like the shared data folder (no liveportrait/ inside)")
    chosen = [s for s in collect_sources(data) if sources is None or s[0] in sources]
    if not chosen:
        raise UsageError(f"none of the sources {sources} is in {data}")
    rows = []
    for name, path in chosen:
        fps, frames = probe_video(path)
        for method, factor, out_s in variants(fps, frames, factors, methods, RETIME_METHODS):
            rel = Path(name) / f"{name}_{method}_{factor:.2f}.mp4"
            if not (out_dir / rel).exists():  # a set is built once; an interrupted build resumes
                make_variant(path, out_dir / rel, method, factor, fps, out_s)
            out_fps = _out_fps(method, fps)
            rows.append({"path": rel.as_posix(), "source": name, "method": method, "factor": f"{factor:.2f}",
                         "fps": f"{out_fps:g}", "frames": round(out_s * out_fps)})
        if progress:
            print(f"audio-video speed test set: {name} done ({len(rows)} clips)", file=sys.stderr)
    return write_manifest(out_dir, rows, COLUMNS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflab.train.speed_av_testset", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", metavar="OUTDIR")
    parser.add_argument("--data", default=None, help="the shared data folder (default ../shared/data)")
    args = parser.parse_args(argv)
    try:
        manifest = build_testset(args.out_dir, args.data or default_data_dir(), progress=True)
    except UsageError as exc:
        print(f"speed_av_testset: error: {exc}", file=sys.stderr)
        return 2
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
