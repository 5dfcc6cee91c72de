"""Build a labelled development set of short videos from the real clips, for fitting the fusion.

    python -m dflab.train.devset OUTDIR [--data DIR] [--quick] [--seconds S]

Sources: every real clip of ../shared/data/liveportrait (driving videos) and face_recognition, never ffpp
(its 7 files are the held-out test set). Each clip is cut into segments of about 5 s; every segment gives
  reals: the segment re-published four ways (H.264 CRF 23 and 32, half size, an 80 % central crop), so
         compression and size carry no label;
  fakes: two cross-identity face swaps (donor = another clip of the same footage group, the frame with the
         nearest pose; colour transfer; feathered alpha or Poisson blend), one lower-face expression edit
         (the same person's mouth region from another moment of the clip), and one temporally consistent
         self-blended video; each fake goes through one of the same four re-publications.
Reals and fakes are balanced (prior 50 % fake). Groups are sets of footage: a swap only takes its donor
from its own group, so leaving one group out of a fit keeps every face of the tested clips out of it.
Writes OUTDIR/<files>.mp4 and OUTDIR/manifest.csv (path,label,method,group,source,degradation).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.atomic import atomic_output
from dflab.errors import DflabError, UsageError
from dflab.train import devset_fakes as F

SEGMENT_S = 5.0
MIN_SEGMENT_S = 3.0
MIN_FACE_SHARE = 0.6  # a segment needs a face in this share of its frames
N_GROUPS = 4
DONOR_FPS = 3.0  # donor frames kept per second for the pose search


@dataclass
class Clip:
    """A source clip's frames (every frame, analysis size), main-face landmarks per frame, and audio."""

    name: str
    path: Path
    group: str
    fps: float
    frames: list[np.ndarray]
    landmarks: list[np.ndarray | None]
    audio: object | None  # dflab.media.types.Audio


def find_sources(data: Path) -> list[Path]:
    """The real talking-face clips under the shared data folder (ffpp excluded: held out)."""
    found = sorted((data / "liveportrait" / "assets" / "examples" / "driving").glob("*.mp4"))
    found += sorted((data / "face_recognition" / "examples").glob("*.mp4"))
    if not found:
        raise UsageError(f"no source clips under {data} (expected liveportrait/ and face_recognition/)")
    return found


def assign_groups(names: list[str], n_groups: int = N_GROUPS) -> dict[str, str]:
    """Footage -> group, round robin over the sorted names (deterministic, groups of near-equal size)."""
    return {name: f"g{i % n_groups}" for i, name in enumerate(sorted(names))}


def load_clip(path: Path, group: str, max_s: float | None = None) -> Clip:
    """Decode every frame (no sampling) and find the main face's landmarks in each."""
    from dflab.config import SamplingPolicy
    from dflab.faces.analyse import analyse
    from dflab.media.load import load

    media = load(path, policy=SamplingPolicy(all_frames_up_to_s=3600.0, max_side=1280))
    frames = [f.rgb for f in media.frames if max_s is None or f.time_s < max_s]
    media.frames = media.frames[: len(frames)]
    landmarks: list[np.ndarray | None] = [None] * len(frames)
    tracks = analyse(media, max_faces=1, embed_every_s=None)
    for track in tracks:  # max_faces=1: every observation is the main face, whichever track holds it
        for obs in track.observations:
            if landmarks[obs.frame_pos] is None:
                landmarks[obs.frame_pos] = obs.landmarks
    fps = media.sampled_fps or media.fps
    return Clip(path.stem, path, group, float(fps), frames, landmarks, media.audio)


def segments(clip: Clip, seconds: float, min_s: float) -> list[tuple[int, int]]:
    """[start, stop) frame ranges of consecutive segments with a face in most frames."""
    n = round(seconds * clip.fps)
    out = []
    for start in range(0, len(clip.frames), n):
        stop = min(start + n, len(clip.frames))
        if (stop - start) / clip.fps < min_s:
            continue
        found = sum(lm is not None for lm in clip.landmarks[start:stop])
        if found >= MIN_FACE_SHARE * (stop - start):
            out.append((start, stop))
    return out


def donor_bank(clip: Clip) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(frame, landmarks, pose key) every 1/DONOR_FPS s: the pose key is the aligned landmark layout."""
    step = max(1, round(clip.fps / DONOR_FPS))
    bank = []
    for i in range(0, len(clip.frames), step):
        lm = clip.landmarks[i]
        if lm is not None:
            bank.append((clip.frames[i], lm, F.face_crop(clip.frames[i], lm, 256).points / 256.0))
    return bank


def _swap_frames(clip: Clip, start: int, stop: int, bank, seamless: bool):
    current = None
    for i in range(start, stop):
        frame, lm = clip.frames[i], clip.landmarks[i]
        if lm is None:
            yield frame
            continue
        size = F.crop_size_for(lm)
        target = F.face_crop(frame, lm, size)
        key = target.points / size
        dists = [F.pose_distance(key, k) for _, _, k in bank]
        best = int(np.argmin(dists))
        # Hysteresis: keep the donor frame while it stays nearly as good (less flicker, as real tools do).
        if current is None or dists[current] > 1.15 * dists[best]:
            current = best
        donor_frame, donor_lm, _ = bank[current]
        yield F.swap_face(frame, target, F.face_crop(donor_frame, donor_lm, size), seamless)


def _expression_frames(clip: Clip, start: int, stop: int, offset: int, seamless: bool):
    n = len(clip.frames)
    for i in range(start, stop):
        frame, lm = clip.frames[i], clip.landmarks[i]
        j = (i + offset) % n
        donor_lm = clip.landmarks[j]
        if lm is None or donor_lm is None:
            yield frame
            continue
        size = F.crop_size_for(lm)
        yield F.edit_expression(frame, F.face_crop(frame, lm, size), F.face_crop(clip.frames[j], donor_lm, size), seamless)


def _sbi_frames(clip: Clip, start: int, stop: int, seed: int):
    for i in range(start, stop):
        frame, lm = clip.frames[i], clip.landmarks[i]
        if lm is None:
            yield frame
            continue
        yield F.self_blend_frame(frame, F.face_crop(frame, lm, F.crop_size_for(lm)), seed)


def _audio_slice(clip: Clip, start: int, stop: int):
    from dflab.media.types import Audio

    if clip.audio is None or clip.audio.samples.size == 0:
        return None
    sr = clip.audio.sample_rate
    a, b = int(start / clip.fps * sr), int(stop / clip.fps * sr)
    piece = clip.audio.samples[a:b]
    return Audio(piece, sr) if piece.size else None


@dataclass(frozen=True)
class Row:
    path: str
    label: str
    method: str
    group: str
    source: str
    degradation: str


def _write(out_dir: Path, name: str, frames, clip: Clip, start: int, stop: int, how: F.Degradation) -> str:
    from dflab.media.write import write_video

    file = out_dir / f"{name}_{how.name}.mp4"
    write_video(file, (F.degrade(f, how) for f in frames), clip.fps, audio=_audio_slice(clip, start, stop),
                crf=how.crf, preset="veryfast")
    return file.name


def build_segment(out_dir: Path, clip: Clip, seg: tuple[int, int], index: int, donors: list[tuple[str, list]],
                  degradations: tuple[F.Degradation, ...], rng: np.random.Generator) -> list[Row]:
    """Every real and fake clip of one segment; `index` rotates which re-publication each fake gets."""
    start, stop = seg
    stem = f"{clip.name}_s{start:05d}"
    rows = []
    for how in degradations:
        frames = clip.frames[start:stop]
        rows.append(Row(_write(out_dir, f"{stem}_real", frames, clip, start, stop, how), "real", "real",
                        clip.group, clip.name, how.name))
    fakes = []
    for k, (donor_name, bank) in enumerate(donors[:2]):
        seamless = k % 2 == 1
        fakes.append((f"swap_{donor_name}", "swap", f"{clip.name}<-{donor_name}",
                      _swap_frames(clip, start, stop, bank, seamless)))
    offset = int(rng.integers(int(1.0 * clip.fps), max(int(1.0 * clip.fps) + 1, len(clip.frames) - int(1.0 * clip.fps))))
    fakes.append(("expr", "expression", clip.name, _expression_frames(clip, start, stop, offset, bool(rng.integers(2)))))
    fakes.append(("sbi", "sbi", clip.name, _sbi_frames(clip, start, stop, int(rng.integers(2**31)))))
    # As many fakes as reals: the set's prior stays 50 % fake. With fewer slots than kinds the kinds take
    # turns; otherwise every kind keeps its slot and the re-publications rotate over the segments.
    if len(degradations) < len(fakes):
        turn = index % len(fakes)
        fakes = fakes[turn:] + fakes[:turn]
    for k, (tag, method, source, frames) in enumerate(fakes[: max(len(degradations), 1)]):
        how = F.DEGRADATIONS[(index + k) % len(F.DEGRADATIONS)] if len(degradations) > 1 else degradations[0]
        rows.append(Row(_write(out_dir, f"{stem}_{tag}", frames, clip, start, stop, how), "fake", method,
                        clip.group, source, how.name))
    return rows


def write_manifest(path: Path, rows: list[Row]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "label", "method", "group", "source", "degradation"])
    for r in rows:
        writer.writerow([r.path, r.label, r.method, r.group, r.source, r.degradation])
    with atomic_output(path) as tmp:
        Path(tmp).write_text(buf.getvalue())


def build(sources: list[Path], out_dir: Path, seconds: float = SEGMENT_S, min_s: float = MIN_SEGMENT_S,
          max_segments: int | None = None, degradations: tuple[F.Degradation, ...] = F.DEGRADATIONS,
          max_source_s: float | None = None, seed: int = 0, log=print) -> list[Row]:
    """Build the set from `sources` into `out_dir`; returns the manifest rows (also written as manifest.csv)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = assign_groups([p.stem for p in sources])
    started = time.perf_counter()
    clips = []
    for path in sources:
        try:
            clips.append(load_clip(path, groups[path.stem], max_source_s))
        except DflabError as exc:
            log(f"skip {path.name}: {exc}")
    banks = {c.name: donor_bank(c) for c in clips}
    log(f"loaded {len(clips)} clips with landmarks in {time.perf_counter() - started:.1f} s")
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    index = 0
    for clip in clips:
        others = [(c.name, banks[c.name]) for c in clips if c.group == clip.group and c.name != clip.name and banks[c.name]]
        for seg in segments(clip, seconds, min_s)[:max_segments]:
            donors = [others[(index + k) % len(others)] for k in range(min(2, len(others)))] if others else []
            rows += build_segment(out_dir, clip, seg, index, donors, degradations, rng)
            index += 1
        log(f"{clip.name}: {len(rows)} files so far, {time.perf_counter() - started:.0f} s")
        clip.frames = []  # free the decoded frames: only landmarks and banks stay
    if not rows:
        raise UsageError("no segment with a face was found in the source clips")
    write_manifest(out_dir / "manifest.csv", rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflab.train.devset", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, metavar="OUTDIR")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--quick", action="store_true",
                        help="one 2 s segment per clip, one re-publication per real: a smoke test in a minute")
    parser.add_argument("--seconds", type=float, default=SEGMENT_S, help="segment length (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        if args.quick:
            rows = build(find_sources(args.data), args.out, seconds=2.0, min_s=1.5, max_segments=1,
                         degradations=(F.DEGRADATIONS[0],), max_source_s=4.0, seed=args.seed)
        else:
            rows = build(find_sources(args.data), args.out, seconds=args.seconds, seed=args.seed)
    except DflabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_fake = sum(r.label == "fake" for r in rows)
    print(f"{len(rows)} files ({n_fake} fake) in {time.perf_counter() - started:.0f} s -> {args.out / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
