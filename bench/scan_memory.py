"""Peak memory of `dflab scan` against clip length: is it flat in duration?

    .venv/bin/python bench/scan_memory.py                       # 60 s, 3 min and 10 min of 1080p
    .venv/bin/python bench/scan_memory.py --durations 60,180    # skip the long one

The clips are built from real footage in the shared data (a LivePortrait talking-face clip with its sound,
scaled to 1080 lines, padded to 1920x1080 and looped) with ffmpeg into a temporary folder, never into the repo;
the 60 s clip is encoded once and the longer ones are stream copies of it looped. Each scan runs as
`python -m dflab scan CLIP --json` in a fresh process, one thread; its peak resident memory comes from the
kernel (wait4 ru_maxrss, which counts every page the process ever held), with its wall time and the number of
frames analysed. Writes bench/results/scan_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, require_shared_data, write_results  # noqa: E402

SOURCE = "liveportrait/assets/examples/driving/d6.mp4"  # 33.6 s of a real talking face, 480x480, with audio
TARGET_60S_MB = 1200.0


def build_base_clip(source: Path, out: Path, seconds: float) -> Path:
    """`seconds` of the source, looped, scaled to 1080 lines and padded to 1920x1080, H.264 + AAC."""
    subprocess.run(
        ["ffmpeg", "-y", "-v", "error", "-stream_loop", "-1", "-i", str(source), "-t", f"{seconds}",
         "-vf", "scale=1080:1080,pad=1920:1080:420:0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
         "-g", "60", "-c:a", "aac", "-b:a", "96k", "-threads", "1", str(out)],
        check=True,
    )  # fmt: skip
    return out


def loop_clip(base: Path, out: Path, seconds: float) -> Path:
    """The base clip repeated (stream copy, no re-encoding) and cut to `seconds`."""
    subprocess.run(
        ["ffmpeg", "-y", "-v", "error", "-stream_loop", "-1", "-i", str(base), "-t", f"{seconds}", "-c", "copy",
         str(out)],
        check=True,
    )  # fmt: skip
    return out


def scan_peak(clip: Path, env: dict, timeout_s: float) -> dict:
    """Peak RSS (MB), wall seconds and frames analysed of one `dflab scan` in a fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dflab", "scan", str(clip), "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"exit": "timeout", "peak_rss_mb": None, "wall_s": timeout_s, "frames_analysed": None}
    # communicate() reaped the child; its rusage is folded into RUSAGE_CHILDREN, so measure through a
    # wrapper instead when several scans run in one benchmark (see main: one wrapper per clip).
    return {"exit": proc.returncode, "stdout": out, "stderr": err.decode(errors="replace")[-400:],
            "wall_s": time.perf_counter() - started}


def measure_in_wrapper(clip: Path, env: dict, timeout_s: float) -> dict:
    """Runs scan_peak in its own process, so RUSAGE_CHILDREN there is exactly this one scan's peak."""
    code = (
        "import json, resource, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from scan_memory import scan_peak\n"
        f"r = scan_peak(__import__('pathlib').Path({str(clip)!r}), dict(__import__('os').environ), {timeout_s!r})\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0\n"
        "frames = None\n"
        "if r['exit'] == 0:\n"
        "    frames = json.loads(r['stdout']).get('frames_analysed')\n"
        "print(json.dumps({'exit': r['exit'], 'peak_rss_mb': peak, 'wall_s': r['wall_s'], 'frames_analysed': frames,"
        " 'stderr': r.get('stderr', '')}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durations", default="60,180,600", help="clip lengths in seconds (comma-separated)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per scan")
    parser.add_argument("--keep", metavar="DIR", help="build (or reuse) the clips in DIR instead of a temp folder")
    args = parser.parse_args()
    data = require_shared_data()
    if shutil.which("ffmpeg") is None:
        print("ffmpeg not found (apt-get install ffmpeg)", file=sys.stderr)
        return 2
    durations = [float(d) for d in args.durations.split(",") if d.strip()]
    python_path = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dflab-scan-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DFLAB_HOME": str(work / "home"), "PYTHONPATH": python_path, "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}  # fmt: skip
    rows = []
    try:
        base = work / "clip_60s.mp4"
        if not base.exists():
            build_base_clip(data / SOURCE, base, 60.0)
        for seconds in durations:
            clip = base if seconds == 60.0 else work / f"clip_{int(seconds)}s.mp4"
            if not clip.exists():
                loop_clip(base, clip, seconds)
            result = measure_in_wrapper(clip, env, args.timeout)
            rows.append({"clip": f"{seconds:.0f} s 1920x1080", "seconds": seconds, **result})
            print(f"  {seconds:.0f} s: peak {result['peak_rss_mb']:.0f} MB, {result['wall_s']:.0f} s, exit {result['exit']}",
                  file=sys.stderr)  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    # Relative to the shortest clip measured (the durations may come in any order).
    shortest = min(rows, key=lambda r: r["seconds"])["peak_rss_mb"] if rows else None
    for row in rows:
        row["vs_first"] = row["peak_rss_mb"] / shortest if shortest and row["peak_rss_mb"] else None
    print()
    print_table(rows, ["clip", "exit", "peak_rss_mb", "vs_first", "frames_analysed", "wall_s"])
    sixty = next((r for r in rows if r["seconds"] == 60.0), None)
    write_results("scan_memory", {
        "source": SOURCE, "runs": [{k: v for k, v in r.items() if k != "stderr"} for r in rows],
        "target_60s_mb": TARGET_60S_MB,
        "meets_60s_target": bool(sixty and sixty["exit"] == 0 and sixty["peak_rss_mb"] < TARGET_60S_MB),
        "flat_within_10pct": bool(rows and all(r["exit"] == 0 and r["vs_first"] is not None and r["vs_first"] <= 1.10 for r in rows)),
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
