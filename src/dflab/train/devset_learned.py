"""Deep-learned face swaps for the video development set: the autoencoder kind real deepfakes are.

    python -m dflab.train.devset_learned OUTDIR [--data DIR] [--iterations N] [--warm-iterations N]
                                               [--pairs A:B ...]

For each pair of clips of one footage group (`devset.assign_groups`, so a group left out of a fit keeps both
faces out of it): extract both persons' faces from their clips (`dflab swap extract`, 64 px), train a 64 px
`tiny` shared-encoder / two-decoder model (the first pair from scratch; every later pair starts from the first
pair's weights, DeepFaceLab's "pretrained model" practice, and trains fewer iterations), convert clip A with B's
decoder and clip B with A's (`dflab swap convert`, disclosed: watermark, C2PA manifest, ledger record), then cut
the converted clips into the same ~5 s segments devset.py cuts and re-publish each through one of devset's four
re-publications (rotating). Writes OUTDIR/<clip>_s<start>_learned_<donor>_<degradation>.mp4 and
OUTDIR/manifest.csv (path,label,method,group,source,degradation; method `learned_swap`, fakes only: the reals
are the development set's). Models, facesets, converted clips and the throwaway DFLAB_HOME (keys, ledger) stay
under OUTDIR/pairs and OUTDIR/home. Built pair by pair: a stopped run keeps its finished pairs and resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from dflab.errors import DflabError, UsageError
from dflab.train import devset
from dflab.train import devset_fakes as F

# One pair per footage group, the clips with the most segments (the first pair trains from scratch). SECOND_PAIRS
# bring in every group's other clips (`--pairs` with both lists; finished pairs are kept, so it adds to a build).
DEFAULT_PAIRS = (("d10", "d14"), ("d6", "d11"), ("d9", "d19"), ("d13", "short_hamilton_clip"))
SECOND_PAIRS = (("d0", "d20"), ("d3", "d14"), ("d18", "d11"), ("d12", "d9"))
FULL_ITERATIONS = 6000
WARM_ITERATIONS = 2000
MODEL_SIZE, FACE_SIZE, PRESET = 64, 64, "tiny"
LEARNING_RATE = 3e-4  # the showcase's rate for the tiny preset (docs/methods.md)
METHOD = "learned_swap"


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    group: str

    @property
    def tag(self) -> str:
        return f"{self.a}__{self.b}"


@dataclass(frozen=True)
class SwapJob:
    """One published learned swap: segment [start, stop) of `target` with `donor`'s face."""

    target: str
    donor: str
    group: str
    start: int
    stop: int
    degradation: str

    @property
    def stem(self) -> str:
        return f"{self.target}_s{self.start:05d}_learned_{self.donor}"

    @property
    def file(self) -> str:
        return f"{self.stem}_{self.degradation}.mp4"

    def row(self) -> devset.Row:
        return devset.Row(self.file, "fake", METHOD, self.group, f"{self.target}<-{self.donor}", self.degradation)


def plan_pairs(names: list[str], pairs: list[tuple[str, str]]) -> list[Pair]:
    """The pairs with their footage group; refuses unknown clips, a clip paired with itself, a pair given twice
    and a pair that crosses groups (it would leak a face across a leave-one-group-out split)."""
    groups = devset.assign_groups(names)
    seen: set[frozenset] = set()
    out = []
    for a, b in pairs:
        for name in (a, b):
            if name not in groups:
                raise UsageError(f"no source clip named {name!r} (clips: {', '.join(sorted(groups))})")
        if a == b:
            raise UsageError(f"a pair needs two clips, got {a}:{b}")
        if frozenset((a, b)) in seen:
            raise UsageError(f"the pair {a}:{b} is given twice")
        if groups[a] != groups[b]:
            raise UsageError(f"{a} ({groups[a]}) and {b} ({groups[b]}) are in different footage groups")
        seen.add(frozenset((a, b)))
        out.append(Pair(a, b, groups[a]))
    return out


def plan_swaps(pairs: list[Pair], segments: dict[str, list[tuple[int, int]]], first_index: int = 0) -> list[SwapJob]:
    """Every segment of A drawn as B and every segment of B drawn as A, pair by pair; the re-publication
    rotates over all swaps in this order (as devset rotates it over its fakes), starting at the
    `first_index`-th (the swaps of the pairs built before)."""
    jobs = []
    for pair in pairs:
        for target, donor in ((pair.a, pair.b), (pair.b, pair.a)):
            for start, stop in segments.get(target, []):
                how = F.DEGRADATIONS[(first_index + len(jobs)) % len(F.DEGRADATIONS)]
                jobs.append(SwapJob(target, donor, pair.group, start, stop, how.name))
    return jobs


def parse_pair(text: str) -> tuple[str, str]:
    a, sep, b = text.partition(":")
    if not sep or not a or not b:
        raise argparse.ArgumentTypeError(f"a pair is CLIP_A:CLIP_B, got {text!r}")
    return a, b


def _preview_writer(grid, path: Path, info: dict) -> None:
    """Previews show generated faces: disclosed like every maker output (as `dflab swap train` does)."""
    from dflab.make.disclose import disclose_image

    sources = [s["path"] for who in ("a", "b") for s in info["sources"].get(who, []) if s.get("path")]
    disclose_image(grid, path, sources=sources[:2], model=path.parent.name, method="faceswap-preview",
                   extra={"iteration": info["iteration"], "columns": "A, A->A, A->B, B, B->B, B->A"})  # fmt: skip


def train_pair(pair: Pair, clips: dict[str, Path], work: Path, iterations: int, init_from: Path | None, log) -> Path:
    """Facesets and model of one pair under `work`; resumes a model a stopped run left behind."""
    from dflab.make.swap.checkpoint import CKPT_NAME
    from dflab.make.swap.extract import extract_faceset
    from dflab.make.swap.model import preset_config
    from dflab.make.swap.train import TrainConfig, train_swap

    work.mkdir(parents=True, exist_ok=True)
    facesets = {}
    for name in (pair.a, pair.b):
        facesets[name] = work / f"faces_{name}"
        if not (facesets[name] / "faceset.json").is_file():
            summary = extract_faceset(clips[name], facesets[name], size=FACE_SIZE)
            log(f"  faces of {name}: {summary['faces']} (dropped {summary['dropped']})")
    model = work / "model"
    config = TrainConfig(iterations=iterations, lr=LEARNING_RATE, save_every=500, preview_every=iterations,
                         warmup=min(100, max(1, iterations // 10)))  # fmt: skip
    resume = (model / CKPT_NAME).is_file()
    started = time.process_time()
    summary = train_swap(facesets[pair.a], facesets[pair.b], model, preset_config(PRESET, MODEL_SIZE), config,
                         resume=resume, progress=False, preview_writer=_preview_writer,
                         init_from=None if resume else init_from)  # fmt: skip
    log(f"  model {pair.tag}: iteration {summary['iteration']} ({summary['trained_now']} now, "
        f"{summary['it_per_s']} it/s, {time.process_time() - started:.0f} s CPU), loss A {summary['loss_a']}, "
        f"loss B {summary['loss_b']}, warm start from {init_from.parent.name if init_from else 'nothing'}")
    return model


def convert_clip(source: Path, model: Path, to: str, out: Path) -> Path:
    """The whole clip converted to `to` (disclosed); kept, so a rerun reuses it."""
    from dflab.make.swap.convert import convert

    if not out.is_file():
        convert(source, model, out, to=to, progress=False)
    return out


def publish(jobs: list[SwapJob], clip: devset.Clip, converted: Path, out_dir: Path) -> list[devset.Row]:
    """Cut the converted clip into `jobs`' segments and re-publish each (devset's writer: source audio)."""
    from dflab.config import Limits, SamplingPolicy
    from dflab.media.load import iter_frames

    wanted = {i for job in jobs for i in range(job.start, job.stop)}
    frames = {}
    policy = SamplingPolicy(all_frames_up_to_s=3600.0, max_side=1280)  # as devset.load_clip decodes
    for pos, frame in enumerate(iter_frames(converted, policy, Limits(max_analysis_frames=1 << 31))):
        if pos in wanted:
            frames[pos] = frame.rgb
    rows = []
    for job in jobs:
        picked = [frames[i] for i in range(job.start, job.stop) if i in frames]
        if len(picked) != job.stop - job.start:
            raise UsageError(f"{converted} has {len(frames)} of the frames segment {job.start}-{job.stop} needs")
        how = next(d for d in F.DEGRADATIONS if d.name == job.degradation)
        devset._write(out_dir, job.stem, picked, clip, job.start, job.stop, how)
        rows.append(job.row())
    return rows


def build_pair(pair: Pair, sources: dict[str, Path], out_dir: Path, iterations: int, init_from: Path | None,
               first_index: int, log) -> tuple[list[devset.Row], Path]:  # fmt: skip
    """One pair end to end; returns its manifest rows and its model (done.json marks it finished)."""
    work = out_dir / "pairs" / pair.tag
    done = work / "done.json"
    if done.is_file():
        state = json.loads(done.read_text())
        log(f"{pair.tag}: done before ({len(state['rows'])} files)")
        return [devset.Row(**r) for r in state["rows"]], work / "model"
    started = time.perf_counter()
    model = train_pair(pair, sources, work, iterations, init_from, log)
    clips, segs = {}, {}
    for name in (pair.a, pair.b):
        clips[name] = devset.load_clip(sources[name], pair.group)
        segs[name] = devset.segments(clips[name], devset.SEGMENT_S, devset.MIN_SEGMENT_S)
        clips[name].frames = []  # only the fps, audio and segments are needed from here
    jobs = plan_swaps([pair], segs, first_index)  # the re-publication rotates over all pairs, not within one
    rows = []
    for target, donor, to in ((pair.a, pair.b, "b"), (pair.b, pair.a, "a")):
        converted = convert_clip(sources[target], model, to, work / f"converted_{target}_to_{donor}.mp4")
        rows += publish([j for j in jobs if j.target == target], clips[target], converted, out_dir)
    done.write_text(json.dumps({"pair": asdict(pair), "iterations": iterations, "init_from": str(init_from),
                                "rows": [asdict(r) for r in rows]}, indent=1))  # fmt: skip
    log(f"{pair.tag}: {len(rows)} files in {time.perf_counter() - started:.0f} s")
    return rows, model


def build(data: Path, out_dir: Path, pairs: list[tuple[str, str]] = DEFAULT_PAIRS, iterations: int = FULL_ITERATIONS,
          warm_iterations: int = WARM_ITERATIONS, log=print) -> list[devset.Row]:  # fmt: skip
    """All pairs into `out_dir`; the manifest is rewritten after each pair."""
    import torch

    torch.set_num_threads(1)
    sources = {p.stem: p for p in devset.find_sources(data)}
    planned = plan_pairs(list(sources), list(pairs))
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DFLAB_HOME"] = str((out_dir / "home").resolve())  # throwaway keys and ledger for the disclosures
    rows: list[devset.Row] = []
    first_model = None
    for pair in planned:
        pair_rows, model = build_pair(pair, sources, out_dir, iterations if first_model is None else warm_iterations,
                                      first_model, len(rows), log)  # fmt: skip
        first_model = first_model or model
        rows += pair_rows
        devset.write_manifest(out_dir / "manifest.csv", rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflab.train.devset_learned", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, metavar="OUTDIR")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--iterations", type=int, default=FULL_ITERATIONS, help="the first pair's training iterations")
    parser.add_argument("--warm-iterations", type=int, default=WARM_ITERATIONS,
                        help="iterations of every later pair, started from the first pair's model")
    parser.add_argument("--pairs", nargs="+", type=parse_pair, default=list(DEFAULT_PAIRS), metavar="A:B",
                        help="clip pairs of one footage group (default: " +
                             " ".join(f"{a}:{b}" for a, b in DEFAULT_PAIRS) + ")")  # fmt: skip
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        if args.iterations < 1 or args.warm_iterations < 1:
            raise UsageError("--iterations and --warm-iterations must be at least 1")
        rows = build(args.data, args.out, args.pairs, args.iterations, args.warm_iterations,
                     log=lambda msg: print(msg, flush=True))  # fmt: skip
    except DflabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(rows)} learned swaps in {time.perf_counter() - started:.0f} s -> {args.out / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
