"""Fuzz campaign: mutated real media through every media-reading command, each run in a fresh process with a timeout.

    .venv/bin/python bench/fuzz.py --n 40 --seed 1                    # 40 mutants x 7 commands, subprocesses
    nice -n 19 .venv/bin/python bench/fuzz.py --runner fork --n 400   # the same runs, forked from a warm parent
    scripts/fuzz_campaign.sh 7 150 13:20 10000                        # long campaigns: chunks, then --merge

The corpus (dflab.eval.fuzz.build_corpus) is small real media copied into a temporary folder: a photo (JPEG),
a PNG crop and a WebP of it, 1.5 s of a talking face with its sound (faststart MP4), 1 s of a FaceForensics clip
without sound (Matroska), 1.5 s of real speech as WAV and MP3. Each mutant gets one of: bit flips, a cut,
inserted bytes, deleted bytes, or a header field set to a hostile value (dflab.eval.fuzz). Every mutant runs
through scan, register, trace, verify, sign, watermark detect and compare (against its own original), with a
DFLAB_HOME holding keys and the registered originals. Runners (--runner): `subprocess` starts
`python -m dflab ...` per command (an interpreter start and the model loads each time); `fork` forks one child
per command from this process once it has imported dflab and loaded the models that are fork-safe
(dflab.cli.fork_runner: same fresh-process isolation, a fraction of the CPU); `in-process` calls the CLI in
this process (cheapest, but one process for all, hangs stopped with SIGALRM). Counted per command: exit 0,
exit 2, tracebacks ("Traceback (most recent call last)" on stderr), hangs (killed at the timeout), other exit
codes (a child killed by a signal among them), and exit-2 errors longer than one line; and, per mutant,
whether the commands agree on it (all accept or all refuse, among those that apply: sign has no Matroska,
the watermark no audio, compare no pictures). Writes bench/results/NAME.json (--out; default fuzz) with the
CPU seconds per run and mutants per second, every failure and disagreement described so that its mutant can
be made again (same --seed; --skip K starts at mutant K of a seed, for chunks that --merge joins).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, print_table, require_shared_data, write_results  # noqa: E402

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


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_dflab(argv: list[str], env: dict, timeout_s: float) -> tuple[str, float, float, str]:
    """(outcome, seconds, CPU seconds, stderr tail); outcome is "0", "2" ("1" from verify: problems found),
    "traceback", "hang", "multiline" or "exit N"."""
    start, cpu_before = time.perf_counter(), _children_cpu_s() + time.process_time()  # the child's, and ours
    try:
        proc = subprocess.run([sys.executable, "-m", "dflab", *argv], env=env, capture_output=True, text=True,
                              timeout=timeout_s)  # fmt: skip
    except subprocess.TimeoutExpired:
        return "hang", time.perf_counter() - start, _children_cpu_s() + time.process_time() - cpu_before, ""
    seconds, cpu_s = time.perf_counter() - start, _children_cpu_s() + time.process_time() - cpu_before
    err = proc.stderr
    if "Traceback (most recent call last)" in err:
        return "traceback", seconds, cpu_s, err[-1500:]
    if proc.returncode == 2 and err.strip().count("\n") != 0:
        return "multiline", seconds, cpu_s, err[-800:]
    if proc.returncode in (0, 2) or (proc.returncode == 1 and argv[0] == "verify"):  # verify: 1 = problems found
        return str(proc.returncode), seconds, cpu_s, ""
    return f"exit {proc.returncode}", seconds, cpu_s, err[-800:]


def fork_runner(work: Path, learn_argvs: list[list[str]], learn_home: Path):
    """run_dflab's call, each command in a child forked from this process once it is warm
    (dflab.cli.fork_runner); returns (run, what warming did)."""
    from dflab.cli.fork_runner import run_forked, warm_parent

    runs = work / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    warmed = warm_parent(learn_argvs, runs, home=learn_home)

    def run(argv, env, timeout_s):  # noqa: ARG001 - same call as run_dflab; DFLAB_HOME is in os.environ
        done = run_forked(argv, timeout_s, runs)
        tail = done.stderr[-1500:] if done.outcome not in ("0", "1", "2") else ""
        return done.outcome, done.seconds, done.cpu_s + done.parent_cpu_s, tail

    return run, warmed


class _Hang(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001 - the signal handler's signature
    raise _Hang


def run_in_process(argv: list[str], timeout_s: float) -> tuple[str, float, float, str]:
    """run_dflab's outcomes, with `dflab.cli.main.main` called in this process (models load once, no
    interpreter start per command); a command still running after `timeout_s` (SIGALRM) counts as a hang."""
    import contextlib
    import io
    import signal
    import traceback

    from dflab.cli.main import main as dflab_main

    err = io.StringIO()
    start, cpu_before = time.perf_counter(), time.process_time()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = dflab_main(argv)
    except _Hang:
        return "hang", time.perf_counter() - start, time.process_time() - cpu_before, ""
    except SystemExit as exc:  # argparse
        code = exc.code
    except Exception:  # noqa: BLE001 - exactly what the campaign looks for
        return ("traceback", time.perf_counter() - start, time.process_time() - cpu_before,
                traceback.format_exc(limit=-4)[-1500:])  # fmt: skip
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu_before
    text = err.getvalue()
    if code == 2 and text.strip().count("\n") != 0:
        return "multiline", seconds, cpu_s, text[-800:]
    if code in (0, 2) or (code == 1 and argv[0] == "verify"):
        return str(code), seconds, cpu_s, ""
    return f"exit {code}", seconds, cpu_s, text[-800:]


DOOR_READERS = ("check_media", "probe", "load", "load streamed", "load_audio", "load_image_rgb")


def front_door(path: Path, reader: str):
    """One of the functions every command reads media through (dflab.media): the parsing a mutant meets first."""
    from dflab.config import Limits
    from dflab.media import check_media, load, load_audio, load_image_rgb, probe

    if reader == "check_media":  # the shared open-and-check step (what sign, verify and the watermark run first)
        return check_media(path, Limits(), other_images=True)
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


RUNNERS = ("subprocess", "in-process", "fork")
COUNT_KEYS = ("runs", "exit 0", "exit 1", "exit 2", "tracebacks", "hangs", "multi-line", "other exits")


def learn_argvs(corpus: dict[str, Path], out_dir: Path) -> list[list[str]]:
    """Setup and every command on every good file: what the fork runner's parent learns its imports from."""
    out_dir.mkdir(parents=True, exist_ok=True)
    argvs = [["keys", "init"], *(["register", str(p)] for p in corpus.values())]
    for path in corpus.values():
        argvs += [argv_for(c, path, path, out_dir) for c in COMMANDS if applies(c, path.suffix)]
    return argvs


def command_rows(commands: list[str], counts: dict, seconds: dict, cpu: dict) -> list[dict]:
    rows = []
    for command in commands:
        c = counts[command]
        runs = sum(c.values())
        rows.append({"command": command, "runs": runs, "exit 0": c["0"], "exit 1": c["1"], "exit 2": c["2"],
                     "tracebacks": c["traceback"], "hangs": c["hang"], "multi-line": c["multiline"],
                     "other exits": sum(v for k, v in c.items() if k.startswith(("exit ", "signal "))),
                     "mean s": seconds[command] / runs if runs else 0.0,
                     "mean cpu s": cpu[command] / runs if runs else 0.0})  # fmt: skip
    return rows


def print_summary(result: dict) -> None:
    print(f"\n{result['mutants']} mutants (seed {result['seed']}) x {len(result['commands'])} commands, runner "
          f"{result['runner']}, {result['wall_s']:.0f} s, {result['mutants_per_s']:.3f} mutants/s, "
          f"{result['cpu_s_per_run']:.3f} CPU s per run; commands disagree on {result['disagreements']} mutant(s)\n")
    print_table(result["per_command"] + [{"command": "all", **result["total"], "mean s": "", "mean cpu s": ""}],
                ["command", *COUNT_KEYS, "mean s", "mean cpu s"])  # fmt: skip
    door = result.get("front_door")
    if door is not None:
        print(f"\nfront door: {door['mutants']} mutants (seed {door['seed']}) x {len(door['per_reader'])} readers, "
              f"{door['wall_s']:.0f} s\n")
        print_table(door["per_reader"], ["reader", "runs", "accepted", "refused", "crashes", "hangs"])


def merge(paths: list[Path]) -> dict:
    """One result from campaign chunks (one JSON per seed): counts summed, failures and disagreements joined."""
    import json

    chunks = [json.loads(p.read_text()) for p in sorted(paths)]
    commands = chunks[0]["commands"]
    rows = {c: {"command": c, **dict.fromkeys(COUNT_KEYS, 0), "seconds": 0.0, "cpu_s": 0.0} for c in commands}
    for chunk in chunks:
        if chunk["commands"] != commands:
            raise SystemExit(f"chunks ran different commands: {chunk['commands']} vs {commands}")
        for row in chunk["per_command"]:
            merged = rows[row["command"]]
            for key in COUNT_KEYS:
                merged[key] += row[key]
            merged["seconds"] += row["mean s"] * row["runs"]
            merged["cpu_s"] += row.get("mean cpu s", 0.0) * row["runs"]
    per_command = []
    for row in rows.values():
        seconds, cpu_s = row.pop("seconds"), row.pop("cpu_s")
        per_command.append({**row, "mean s": seconds / row["runs"] if row["runs"] else 0.0,
                            "mean cpu s": cpu_s / row["runs"] if row["runs"] else 0.0})  # fmt: skip
    total = {key: sum(r[key] for r in per_command) for key in COUNT_KEYS}
    doors = [c["front_door"] for c in chunks if c.get("front_door")]
    door = None
    if doors:
        readers = {}
        for d in doors:
            for row in d["per_reader"]:
                into = readers.setdefault(row["reader"], dict.fromkeys(row, 0) | {"reader": row["reader"]})
                for key, value in row.items():
                    if key != "reader":
                        into[key] += value
        door = {"mutants": sum(d["mutants"] for d in doors), "seed": _one_or_all(d["seed"] for d in doors),
                "timeout_s": doors[0]["timeout_s"], "per_reader": list(readers.values()),
                "failures": [f for d in doors for f in d["failures"]], "wall_s": round(sum(d["wall_s"] for d in doors), 1)}  # fmt: skip
    wall_s = round(sum(c["wall_s"] for c in chunks), 1)
    mutants = sum(c["mutants"] for c in chunks)
    cpu_s = sum(r["mean cpu s"] * r["runs"] for r in per_command)
    return {
        "mutants": mutants, "seed": _one_or_all(c["seed"] for c in chunks), "chunks": [str(p.name) for p in sorted(paths)],
        "timeout_s": chunks[0]["timeout_s"], "commands": commands, "runner": chunks[0].get("runner", "subprocess"),
        "in_process": chunks[0].get("in_process", False), "front_door": door, "corpus": chunks[0]["corpus"],
        "per_command": per_command, "total": total, "failures": [f for c in chunks for f in c["failures"]],
        "disagreements": sum(c["disagreements"] for c in chunks),
        "disagreeing_mutants": [m for c in chunks for m in c["disagreeing_mutants"]],
        "wall_s": wall_s, "mutants_per_s": mutants / wall_s if wall_s else 0.0,
        "cpu_s_per_run": cpu_s / total["runs"] if total["runs"] else 0.0,
        "cpu_s_per_mutant": cpu_s / mutants if mutants else 0.0,
    }  # fmt: skip


def _one_or_all(values):
    distinct = sorted(set(values))
    return distinct[0] if len(distinct) == 1 else distinct


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="mutants (each through every command; default 40)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip", type=int, default=0, metavar="K",
                        help="start at mutant K of this seed's sequence (chunks of one long campaign: --skip 0 --n 200, "
                        "--skip 200 --n 200, ...; a seed's mutants are the same whatever --n)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per command before it counts as a hang")
    parser.add_argument("--budget-s", type=float, default=None, help="stop starting new mutants after this long")
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated subset of the commands")
    parser.add_argument("--runner", choices=RUNNERS, default="subprocess",
                        help="subprocess: `python -m dflab` per command (default); fork: a child forked per command "
                        "from this process once it has imported dflab and loaded the fork-safe models; in-process: "
                        "called in this process (hangs caught with SIGALRM)")
    parser.add_argument("--in-process", action="store_true", help="the same as --runner in-process")
    parser.add_argument("--door", type=int, default=0, metavar="N",
                        help="also run N mutants (seed + 1) through the media front door (check_media, probe, load, "
                        "streamed load, load_audio, load_image_rgb) in this process")
    parser.add_argument("--door-seed", type=int, default=None, help="the front door's seed (default: --seed + 1)")
    parser.add_argument("--door-budget-s", type=float, default=None, help="stop the front-door mutants after this long")
    parser.add_argument("--out", default="fuzz", help="results name: bench/results/NAME.json (default fuzz)")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                        help="only merge these chunk results (one per seed) into bench/results/NAME.json")
    args = parser.parse_args()
    if args.merge:
        result = merge(args.merge)
        print_summary(result)
        write_results(args.out, result)
        return 0
    runner = "in-process" if args.in_process else args.runner
    data = require_shared_data()
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    from dflab.eval.fuzz import build_corpus, mutants

    started = time.perf_counter()
    warmed = None
    with tempfile.TemporaryDirectory(prefix="dflab-fuzz-") as tmp:
        tmp_path = Path(tmp)
        if runner == "fork":  # built in a child: OpenCV and the encoder leave threads that would make forking unsafe
            from dflab.cli.fork_runner import in_child

            if in_child(build_corpus, data, tmp_path / "corpus") != 0:
                print("could not build the corpus", file=sys.stderr)
                return 1
            corpus = {p.name: p for p in sorted((tmp_path / "corpus").iterdir())}
        else:
            corpus = build_corpus(data, tmp_path / "corpus")
        work = tmp_path / "work"
        work.mkdir()
        # The commands run from this checkout's src/ (as the corpus was built), one thread each.
        python_path = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "DFLAB_HOME": str(tmp_path / "home"), "PYTHONPATH": python_path,
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
        if runner == "subprocess":
            run = run_dflab
        else:
            os.environ.update({k: env[k] for k in ("DFLAB_HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        if runner == "in-process":

            def run(argv, env, timeout_s):  # noqa: ARG001 - same call as run_dflab
                return run_in_process(argv, timeout_s)
        elif runner == "fork":
            run, warmed = fork_runner(tmp_path / "fork", learn_argvs(corpus, tmp_path / "learn-out"),
                                      tmp_path / "learn-home")  # fmt: skip
        for argv in (["keys", "init"], *(["register", str(p)] for p in corpus.values())):
            outcome, _, _, err = run(argv, env, args.timeout)
            if outcome != "0":
                print(f"setup failed: dflab {' '.join(argv)}: {outcome} {err}", file=sys.stderr)
                return 1
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        seconds: dict[str, float] = defaultdict(float)
        cpu: dict[str, float] = defaultdict(float)
        failures, disagreements, done = [], [], 0
        campaign_started = time.perf_counter()
        for mutant in mutants(corpus, args.skip + args.n, seed=args.seed):
            if int(mutant.name.split("-")[0]) < args.skip:
                continue
            if args.budget_s is not None and time.perf_counter() - started > args.budget_s:
                break
            path = work / f"{mutant.name}{mutant.suffix}"
            path.write_bytes(mutant.data)
            outcomes = {}
            for command in commands:
                outcome, took, cpu_s, err = run(argv_for(command, path, corpus[mutant.seed_name], work), env,
                                                args.timeout)  # fmt: skip
                counts[command][outcome] += 1
                seconds[command] += took
                cpu[command] += cpu_s
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
        campaign_s = time.perf_counter() - campaign_started
        door = None
        if args.door:
            door_seed = args.seed + 1 if args.door_seed is None else args.door_seed
            door = door_campaign(corpus, args.door, door_seed, work, args.timeout, args.door_budget_s)
    rows = command_rows(commands, counts, seconds, cpu)
    total = {key: sum(r[key] for r in rows) for key in COUNT_KEYS}
    cpu_total = sum(cpu.values())
    result = {
        "mutants": done, "seed": args.seed, "skip": args.skip, "timeout_s": args.timeout, "commands": commands, "runner": runner,
        "in_process": runner == "in-process", "warm_up": warmed, "front_door": door,
        "corpus": sorted(corpus), "per_command": rows, "total": total, "failures": failures,
        "disagreements": len(disagreements), "disagreeing_mutants": disagreements,
        "wall_s": round(campaign_s, 1), "setup_s": round(campaign_started - started, 1),
        "mutants_per_s": done / campaign_s if campaign_s else 0.0,
        "cpu_s_per_run": cpu_total / total["runs"] if total["runs"] else 0.0,
        "cpu_s_per_mutant": cpu_total / done if done else 0.0,
        "cpu_s_includes_parent": True,  # the runner's own share too (fork() copying page tables, waiting)
        "load_average": os.getloadavg(),
    }  # fmt: skip
    print_summary(result)
    (RESULTS / args.out).parent.mkdir(parents=True, exist_ok=True)  # NAME may name a sub-folder (chunks)
    write_results(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
