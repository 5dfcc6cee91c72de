"""Fuzz campaign: mutated real media through every media-reading command, each run a subprocess with a timeout.

    .venv/bin/python bench/fuzz.py --n 40 --seed 1           # 40 mutants x 7 commands
    nice -n 10 .venv/bin/python bench/fuzz.py --n 400 --budget-s 1200

The corpus (dflab.eval.fuzz.build_corpus) is small real media copied into a temporary folder: a photo (JPEG),
a PNG crop and a WebP of it, 1.5 s of a talking face with its sound (faststart MP4), 1 s of a FaceForensics clip
without sound (Matroska), 1.5 s of real speech as WAV and MP3. Each mutant gets one of: bit flips, a cut,
inserted bytes, deleted bytes, or a header field set to a hostile value (dflab.eval.fuzz). Every mutant runs
through scan, register, trace, verify, sign, watermark detect and compare (against its own original), each as
`python -m dflab ...` in a fresh process under --timeout, with a DFLAB_HOME holding keys and the registered
originals. Counted per command: exit 0, exit 2, tracebacks ("Traceback (most recent call last)" on stderr),
hangs (killed at the timeout), other exit codes, and exit-2 errors longer than one line; and, per mutant,
whether the commands agree on it (all accept or all refuse, among those that apply: sign has no Matroska,
the watermark no audio, compare no pictures). Writes bench/results/fuzz.json, with every failure and
disagreement described so that its mutant can be made again (same --seed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, shared_data, write_results  # noqa: E402

COMMANDS = ("scan", "register", "trace", "verify", "sign", "watermark detect", "compare")


def argv_for(command: str, path: Path, original: Path, out_dir: Path) -> list[str]:
    return {
        "scan": ["scan", str(path), "--json"],
        "register": ["register", str(path), "--json"],
        "trace": ["trace", str(path), "--json"],
        "verify": ["verify", str(path), "--json"],
        "sign": ["sign", str(path), str(out_dir / f"signed-{path.name}"), "--json"],
        "watermark detect": ["watermark", "detect", str(path), "--json"],
        "compare": ["compare", str(path), "--original", str(original), "--json"],
    }[command]


def applies(command: str, suffix: str) -> bool:
    """Whether a command reads this kind of file at all (its refusal is then about the format, not the bytes)."""
    if command == "sign":
        return suffix != ".mkv"  # C2PA cannot sign Matroska
    if command == "watermark detect":
        return suffix not in (".wav", ".mp3")
    if command == "compare":
        return suffix not in (".jpg", ".png", ".webp")
    return True


def run_dflab(argv: list[str], env: dict, timeout_s: float) -> tuple[str, float, str]:
    """(outcome, seconds, stderr tail); outcome is "0", "2" ("1" from verify: problems found), "traceback",
    "hang", "multiline" or "exit N"."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "dflab", *argv], env=env, capture_output=True, text=True,
                              timeout=timeout_s)  # fmt: skip
    except subprocess.TimeoutExpired:
        return "hang", time.perf_counter() - start, ""
    seconds = time.perf_counter() - start
    err = proc.stderr
    if "Traceback (most recent call last)" in err:
        return "traceback", seconds, err[-1500:]
    if proc.returncode == 2 and err.strip().count("\n") != 0:
        return "multiline", seconds, err[-800:]
    if proc.returncode in (0, 2) or (proc.returncode == 1 and argv[0] == "verify"):  # verify: 1 = problems found
        return str(proc.returncode), seconds, ""
    return f"exit {proc.returncode}", seconds, err[-800:]


class _Hang(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001 - the signal handler's signature
    raise _Hang


def run_in_process(argv: list[str], timeout_s: float) -> tuple[str, float, str]:
    """run_dflab's outcomes, with `dflab.cli.main.main` called in this process (models load once, no
    interpreter start per command); a command still running after `timeout_s` (SIGALRM) counts as a hang."""
    import contextlib
    import io
    import signal
    import traceback

    from dflab.cli.main import main as dflab_main

    err = io.StringIO()
    start = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = dflab_main(argv)
    except _Hang:
        return "hang", time.perf_counter() - start, ""
    except SystemExit as exc:  # argparse
        code = exc.code
    except Exception:  # noqa: BLE001 - exactly what the campaign looks for
        return "traceback", time.perf_counter() - start, traceback.format_exc(limit=-4)[-1500:]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - start
    text = err.getvalue()
    if code == 2 and text.strip().count("\n") != 0:
        return "multiline", seconds, text[-800:]
    if code in (0, 2) or (code == 1 and argv[0] == "verify"):
        return str(code), seconds, ""
    return f"exit {code}", seconds, text[-800:]


DOOR_READERS = ("probe", "load", "load streamed", "load_audio", "load_image_rgb")


def front_door(path: Path, reader: str):
    """One of the functions every command reads media through (dflab.media): the parsing a mutant meets first."""
    from dflab.config import Limits
    from dflab.media import load, load_audio, load_image_rgb, probe

    if reader == "probe":
        return probe(path, Limits())
    if reader == "load":
        return load(path)
    if reader == "load streamed":  # what a scan does: frames streamed, a few read back from the file
        media = load(path, keep_frames=False)
        for pos in sorted({0, len(media.frames) // 2, len(media.frames) - 1}) if media.frames else ():
            media.frames[pos].rgb  # noqa: B018 - decoding again is the point
        close = getattr(media.frames, "close", None)
        if close is not None:
            close()
        return media
    if reader == "load_audio":
        return load_audio(path)
    return load_image_rgb(path)


def door_campaign(corpus: dict, n: int, seed: int, work: Path, timeout_s: float, budget_s: float | None) -> dict:
    """`n` mutants through every front-door reader in this process: accepted, refused (a DflabError: one clear
    line), crashed (any other exception: a traceback for the user) or hung."""
    import signal
    import traceback

    from dflab.errors import DflabError
    from dflab.eval.fuzz import mutants

    counts = {reader: defaultdict(int) for reader in DOOR_READERS}
    failures, done, started = [], 0, time.perf_counter()
    for mutant in mutants(corpus, n, seed=seed):
        if budget_s is not None and time.perf_counter() - started > budget_s:
            break
        path = work / f"door-{mutant.name}{mutant.suffix}"
        path.write_bytes(mutant.data)
        for reader in DOOR_READERS:
            previous = signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
            try:
                front_door(path, reader)
                outcome = "accepted"
            except _Hang:
                outcome = "hang"
            except DflabError:
                outcome = "refused"
            except Exception:  # noqa: BLE001
                outcome = "crash"
                failures.append({"mutant": mutant.name, "seed_file": mutant.seed_name, "detail": mutant.detail,
                                 "reader": reader, "traceback": traceback.format_exc(limit=-4)[-1500:]})  # fmt: skip
                print(f"  crash: {reader} on {mutant.name} ({mutant.detail})", file=sys.stderr)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            counts[reader][outcome] += 1
        path.unlink()
        done += 1
    rows = [{"reader": r, "runs": sum(c.values()), "accepted": c["accepted"], "refused": c["refused"],
             "crashes": c["crash"], "hangs": c["hang"]} for r, c in counts.items()]  # fmt: skip
    return {"mutants": done, "seed": seed, "timeout_s": timeout_s, "per_reader": rows, "failures": failures,
            "wall_s": round(time.perf_counter() - started, 1)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="mutants (each through every command; default 40)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per command before it counts as a hang")
    parser.add_argument("--budget-s", type=float, default=None, help="stop starting new mutants after this long")
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated subset of the commands")
    parser.add_argument("--in-process", action="store_true",
                        help="call the commands in this process (models load once; hangs caught with SIGALRM)")
    parser.add_argument("--door", type=int, default=0, metavar="N",
                        help="also run N mutants (seed + 1) through the media front door (probe, load, streamed "
                        "load, load_audio, load_image_rgb) in this process")
    parser.add_argument("--door-budget-s", type=float, default=None, help="stop the front-door mutants after this long")
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        print("shared data not found (set DFLAB_SHARED_DATA)", file=sys.stderr)
        return 2
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    from dflab.eval.fuzz import build_corpus, mutants

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dflab-fuzz-") as tmp:
        tmp_path = Path(tmp)
        corpus = build_corpus(data, tmp_path / "corpus")
        # The commands run from this checkout's src/ (as the corpus was built), one thread each.
        python_path = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "DFLAB_HOME": str(tmp_path / "home"), "PYTHONPATH": python_path,
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
        if args.in_process:
            os.environ.update({k: env[k] for k in ("DFLAB_HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})

            def run(argv, env, timeout_s):  # noqa: ARG001 - same call as run_dflab
                return run_in_process(argv, timeout_s)
        else:
            run = run_dflab
        for argv in (["keys", "init"], *(["register", str(p)] for p in corpus.values())):
            outcome, _, err = run(argv, env, args.timeout)
            if outcome != "0":
                print(f"setup failed: dflab {' '.join(argv)}: {outcome} {err}", file=sys.stderr)
                return 1
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        seconds: dict[str, float] = defaultdict(float)
        failures, disagreements, done = [], [], 0
        work = tmp_path / "work"
        work.mkdir()
        for mutant in mutants(corpus, args.n, seed=args.seed):
            if args.budget_s is not None and time.perf_counter() - started > args.budget_s:
                break
            path = work / f"{mutant.name}{mutant.suffix}"
            path.write_bytes(mutant.data)
            outcomes = {}
            for command in commands:
                outcome, took, err = run(argv_for(command, path, corpus[mutant.seed_name], work), env,
                                         args.timeout)  # fmt: skip
                counts[command][outcome] += 1
                seconds[command] += took
                if applies(command, mutant.suffix):
                    outcomes[command] = "read" if outcome in ("0", "1") else outcome  # verify's 1 read the file
                if outcome not in ("0", "2"):
                    failures.append({"mutant": mutant.name, "seed_file": mutant.seed_name, "mutation": mutant.mutation,
                                     "detail": mutant.detail, "command": command, "outcome": outcome, "stderr": err})  # fmt: skip
                    print(f"  {outcome}: dflab {command} on {mutant.name} ({mutant.detail})", file=sys.stderr)
            if len(set(outcomes.values())) > 1:
                disagreements.append({"mutant": mutant.name, "detail": mutant.detail, "outcomes": outcomes})
                print(f"  commands disagree on {mutant.name} ({mutant.detail}): {outcomes}", file=sys.stderr)
            for produced in work.iterdir():
                produced.unlink()
            done += 1
        door = None
        if args.door:
            door = door_campaign(corpus, args.door, args.seed + 1, work, args.timeout, args.door_budget_s)
    rows = []
    for command in commands:
        c = counts[command]
        runs = sum(c.values())
        rows.append({"command": command, "runs": runs, "exit 0": c["0"], "exit 1": c["1"], "exit 2": c["2"],
                     "tracebacks": c["traceback"], "hangs": c["hang"], "multi-line": c["multiline"],
                     "other exits": sum(v for k, v in c.items() if k.startswith("exit ")),
                     "mean s": seconds[command] / runs if runs else 0.0})  # fmt: skip
    total = {key: sum(r[key] for r in rows) for key in ("runs", "exit 0", "exit 1", "exit 2", "tracebacks", "hangs",
                                                           "multi-line", "other exits")}  # fmt: skip
    print(f"\n{done} mutants (seed {args.seed}) x {len(commands)} commands, {time.perf_counter() - started:.0f} s; "
          f"commands disagree on {len(disagreements)} mutant(s)\n")
    print_table(rows + [{"command": "all", **total, "mean s": ""}],
                ["command", "runs", "exit 0", "exit 1", "exit 2", "tracebacks", "hangs", "multi-line", "other exits",
                 "mean s"])  # fmt: skip
    if door is not None:
        print(f"\nfront door: {door['mutants']} mutants (seed {args.seed + 1}) x {len(DOOR_READERS)} readers, "
              f"{door['wall_s']:.0f} s\n")
        print_table(door["per_reader"], ["reader", "runs", "accepted", "refused", "crashes", "hangs"])
    write_results("fuzz", {
        "mutants": done, "seed": args.seed, "timeout_s": args.timeout, "commands": commands,
        "in_process": args.in_process, "front_door": door,
        "corpus": sorted(corpus), "per_command": rows, "total": total, "failures": failures,
        "disagreements": len(disagreements), "disagreeing_mutants": disagreements,
        "wall_s": round(time.perf_counter() - started, 1),
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
