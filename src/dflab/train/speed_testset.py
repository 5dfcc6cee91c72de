"""The speed test set: 10 s clips of real speech from ../shared/data, played back at other speeds.

    python -m dflab.train.speed_testset OUTDIR [--data DIR] [--quick]

writes OUTDIR/<source>/<name>.{wav,m4a,mp3} and OUTDIR/manifest.csv with the columns
path,label,method,factor,speaker,split (label "fake" when the factor is not 1.0). Methods:

    original      the clip as decoded (factor 1.0)
    aac, mp3      re-encoded only (factor 1.0): codec change must not read as a speed change
    cut           natural speed with a few jump cuts (pieces of 0.3-2 s removed, joined with and without a
                  10 ms crossfade; factor 1.0): an edit that is not a speed change
    stretch       pitch-preserving time stretch with librosa's phase vocoder (librosa.effects.time_stretch)
    atempo        pitch-preserving WSOLA-style stretch by ffmpeg's atempo filter
    resample      played faster/slower like tape: pitch and formants move by the factor (not pitch-corrected,
                  so beyond the issue's wording: reported as its own row)

Speed changes are made at the source's own sample rate (16 kHz LibriSpeech, 22.05 kHz LJSpeech, 44.1 kHz
LivePortrait clip audio) and written at that rate, so a slowed 44.1 kHz source does not get the tell-tale
band edge a 16 kHz source gets. The `split` column puts whole speakers in "calib" or "test".
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.atomic import atomic_output
from dflab.errors import UsageError

FACTORS = (0.5, 0.75, 0.9, 1.1, 1.25, 1.5, 2.0)
CHANGE_METHODS = ("stretch", "atempo", "resample")
NATURAL_METHODS = ("original", "aac", "mp3", "cut")
CLIP_S = 10.0
CUTS_PER_CLIP = 3
CUT_RANGE_S = (0.3, 2.0)
CROSSFADE_S = 0.010
# Whole speakers are held out: the speed model is calibrated on "calib" speakers and scored on the others.
CALIB_SPEAKERS = {"1688", "1998", "2033", "2414", "2609", "lp_d20"}
# LivePortrait clips whose audio is speech at a known speed: d3, d18 and d19 are digitally silent, d9 is
# near-silent hiss, and d10-d14 are loud and pause-free (music or heavily produced), so they are not speech norms.
# d6 (in sets built before session 3) is a lip-sync style clip whose voice runs over a beat (onset autocorrelation
# 0.42-0.63 at 0.8-1 s, at most 0.24 for the speech sources) with steady musical pitches, 4.0 syllables/s against 2.3-3.7 for every other source and an LPC residual as pulse-free as a phase
# vocoder's: its speed cannot be verified, so it cannot be labelled 1.0x (the detector calls it changed).
LIVEPORTRAIT_WITH_SPEECH = ("d20",)


@dataclass(frozen=True)
class Source:
    speaker: str
    samples: np.ndarray  # mono float32 at `sample_rate`
    sample_rate: int


def _load(path: Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    from dflab.media import load_audio, probe

    rate = sample_rate or int(probe(path)["sample_rate"]) or 16_000
    return load_audio(path, sample_rate=rate).samples, rate


def collect_sources(data: Path, librispeech_speakers: list[str] | None = None, liveportrait: bool = True,
                    ljspeech: bool = True) -> list[Source]:
    """One long recording per speaker: LibriSpeech utterances concatenated in file order, LJSpeech's five
    ground-truth sentences, and the audio of each LivePortrait talking-head clip."""
    sources = []
    libri = data / "librispeech"
    speakers = librispeech_speakers or sorted(p.name for p in libri.iterdir() if p.is_dir())
    for speaker in speakers:
        parts = [_load(f, 16_000)[0] for f in sorted((libri / speaker).glob("*.flac"))]
        if not parts:
            raise UsageError(f"no LibriSpeech utterances for speaker {speaker} under {libri}")
        sources.append(Source(speaker, np.concatenate(parts), 16_000))
    if ljspeech:
        parts = [_load(f, 22_050)[0] for f in sorted((data / "ljspeech_tts/ground_truth/wav").glob("*.wav"))]
        if parts:
            sources.append(Source("lj", np.concatenate(parts), 22_050))
    if liveportrait:
        for name in LIVEPORTRAIT_WITH_SPEECH:
            path = data / "liveportrait/assets/examples/driving" / f"{name}.mp4"
            if path.exists():
                samples, rate = _load(path)
                sources.append(Source(f"lp_{name}", samples, rate))
    return sources


def time_stretch(samples: np.ndarray, factor: float) -> np.ndarray:
    import librosa

    return librosa.effects.time_stretch(samples, rate=factor).astype(np.float32)


def resample_speed(samples: np.ndarray, factor: float) -> np.ndarray:
    """Tape-style speed change: every frequency is multiplied by the factor (band-limited resampling)."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    ratio = Fraction(1.0 / factor).limit_denominator(200)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)


def atempo(samples: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """ffmpeg's atempo (pitch-preserving); each instance accepts 0.5..2.0 (100 with newer ffmpeg)."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        sf.write(src, samples, sample_rate, subtype="FLOAT")
        _ffmpeg(["-i", str(src), "-filter:a", f"atempo={factor}", "-c:a", "pcm_f32le", str(dst)])
        out, _ = sf.read(dst, dtype="float32")
    return out


def jump_cuts(samples: np.ndarray, sample_rate: int, seed: int, n_cuts: int = CUTS_PER_CLIP) -> np.ndarray:
    """Natural-speed audio with `n_cuts` pieces of 0.3-2 s removed; every other join gets a short crossfade.

    The cuts are spread over the first 10 s of output so each clip holds all of them."""
    rng = np.random.default_rng(seed)
    lengths = (rng.uniform(*CUT_RANGE_S, n_cuts) * sample_rate).astype(int)
    # cut points in the output, one in each of n_cuts equal stretches (away from the clip's ends)
    edges = np.linspace(0.5, CLIP_S - 0.5, n_cuts + 1)
    points = (np.array([rng.uniform(a, b) for a, b in itertools.pairwise(edges)]) * sample_rate).astype(int)
    fade = int(CROSSFADE_S * sample_rate)
    out, pos, made = [], 0, 0  # pos: read position in the input; made: output samples so far
    for i, (point, length) in enumerate(zip(points, lengths)):
        keep = point - made
        piece = samples[pos : pos + keep].astype(np.float32)
        pos += keep + length
        if i % 2 == 1 and out and fade > 0:  # crossfade this join with the previous piece's tail
            ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
            tail = out[-1][-fade:] * (1 - ramp) + piece[:fade] * ramp
            out[-1] = np.concatenate([out[-1][:-fade], tail])
            piece = piece[fade:]
        out.append(piece)
        made += len(piece)
    out.append(samples[pos : pos + int(CLIP_S * sample_rate) - made].astype(np.float32))
    return np.concatenate(out)


def _ffmpeg(args: list[str]) -> None:
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise UsageError(f"ffmpeg failed: {done.stderr.strip()[:300]}")


def write_audio(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """WAV (PCM 16), or AAC (.m4a) / MP3 through ffmpeg; atomic (temp file, then rename)."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    samples = np.clip(samples, -1.0, 1.0)
    if path.suffix == ".wav":
        sf.write(tmp, samples, sample_rate, subtype="PCM_16", format="WAV")
    else:
        with tempfile.TemporaryDirectory() as scratch:
            wav = Path(scratch) / "in.wav"
            sf.write(wav, samples, sample_rate, subtype="PCM_16")
            codec = ["-c:a", "aac", "-b:a", "96k"] if path.suffix == ".m4a" else ["-c:a", "libmp3lame", "-b:a", "64k"]
            _ffmpeg(["-i", str(wav), *codec, str(tmp)])
    os.replace(tmp, path)


def variants(source: Source, offset_s: float, factors=FACTORS, methods=CHANGE_METHODS, seed: int = 0):
    """(method, factor, samples) for one 10 s output clip taken from `offset_s` of the source."""
    rate = source.sample_rate
    base = source.samples[int(offset_s * rate) :]
    plain = base[: int(CLIP_S * rate)]
    yield "original", 1.0, plain
    yield "aac", 1.0, plain
    yield "mp3", 1.0, plain
    yield "cut", 1.0, jump_cuts(base, rate, seed)
    for factor in factors:
        need = base[: int(CLIP_S * factor * rate) + rate // 10]  # enough input for 10 s of output
        for method in methods:
            if method == "stretch":
                out = time_stretch(need, factor)
            elif method == "resample":
                out = resample_speed(need, factor)
            elif method == "atempo":
                out = atempo(need, rate, factor)
            else:
                raise UsageError(f"unknown speed method {method!r}")
            yield method, factor, out[: int(CLIP_S * rate)]


def build_testset(out_dir: str | Path, data: str | Path, bases_per_speaker: int = 4, factors=FACTORS,
                  methods=CHANGE_METHODS, librispeech_speakers: list[str] | None = None,
                  liveportrait: bool = True, ljspeech: bool = True, progress: bool = False) -> Path:
    """Write the clips and OUTDIR/manifest.csv; returns the manifest path."""
    out_dir, data = Path(out_dir), Path(data)
    if not (data / "librispeech").is_dir():
        raise UsageError(f"{data} does not look like the shared data folder (no librispeech/ inside)")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    sources = collect_sources(data, librispeech_speakers, liveportrait, ljspeech)
    for source in sources:
        total_s = len(source.samples) / source.sample_rate
        # non-overlapping bases of up to 2 x 10 s (a 2x speed-up consumes 20 s of source)
        span = 2 * CLIP_S + 1
        offsets = [i * span for i in range(bases_per_speaker) if i == 0 or i * span + CLIP_S <= total_s]
        for base_i, offset in enumerate(offsets):
            seed = zlib.crc32(f"{source.speaker}/{base_i}".encode())
            for method, factor, samples in variants(source, offset, factors, methods, seed):
                if len(samples) < 2 * source.sample_rate:
                    continue
                ext = {"aac": ".m4a", "mp3": ".mp3"}.get(method, ".wav")
                rel = Path(source.speaker) / f"{source.speaker}_b{base_i}_{method}_{factor:.2f}{ext}"
                write_audio(out_dir / rel, samples, source.sample_rate)
                rows.append({
                    "path": rel.as_posix(), "label": "real" if factor == 1.0 else "fake", "method": method,
                    "factor": f"{factor:.2f}", "speaker": source.speaker,
                    "split": "calib" if source.speaker in CALIB_SPEAKERS else "test",
                })  # fmt: skip
        if progress:
            print(f"speed test set: {source.speaker} done ({len(rows)} clips)", file=sys.stderr)
    manifest = out_dir / "manifest.csv"
    with atomic_output(manifest) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "method", "factor", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def default_data_dir() -> Path:
    return Path(os.environ.get("DFLAB_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflab.train.speed_testset", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", metavar="OUTDIR")
    parser.add_argument("--data", default=None, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--bases", type=int, default=4, help="10 s clips per speaker (default 4)")
    args = parser.parse_args(argv)
    try:
        manifest = build_testset(args.out_dir, args.data or default_data_dir(), bases_per_speaker=args.bases,
                                 progress=True)
    except UsageError as exc:
        print(f"speed_testset: error: {exc}", file=sys.stderr)
        return 2
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
