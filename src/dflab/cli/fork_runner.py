"""Run `dflab` commands in forked children of one warm process: a fresh process per command without paying
an interpreter start and the imports each time.

    warm_parent(corpus_argvs)                 # imports and fork-safe models, once, in this process
    run = run_forked(["scan", "x.jpg", "--json"], timeout_s=60, work_dir=tmp)
    run.outcome                               # "0", "1", "2", "traceback", "hang", "multiline", "exit N", "signal N"

What is fork-safe: a child inherits only the thread that called fork(). A library whose worker threads exist
in the parent (MediaPipe's graph executors, an OpenMP pool that has run a parallel region with more than one
thread) waits in the child for threads that are not there, or crashes: a MediaPipe graph built in the parent
and used in a child ends in SIGSEGV / SIGABRT. So the parent sets torch and OpenMP to one thread before
anything loads, imports every module the commands import (learned from one forked child that runs them on
the corpus), loads the models that start no thread (torch networks, dlib) and leaves MediaPipe's graphs to
each child. run_forked refuses to fork while the parent has more than one thread.

The child calls `dflab.cli.main.main(argv)` with its stdout and stderr sent to files, then leaves with
os._exit: the parent's exit handlers (its temporary folders among them) must not run in the child, so
interpreter-shutdown faults are left to the subprocess runner. A traceback is an exception that escaped
main() (printed to stderr as Python would) or "Traceback (most recent call last)" on stderr; a child still
running at the timeout is killed with its process group and counts as a hang.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dflab.config import LabConfig

TRACEBACK_MARK = "Traceback (most recent call last)"
# Set before torch / NumPy / FAISS load: their OpenMP pools then never start a worker thread in the parent.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
# Packages that start a thread when imported (ONNX Runtime does, whatever its settings): the children import them.
THREAD_STARTING_PACKAGES = ("onnxruntime",)


@dataclass(frozen=True)
class ForkedRun:
    outcome: str  # "0", "1", "2", "traceback", "hang", "multiline", "exit N" or "signal N"
    seconds: float  # wall time from fork to reaping
    cpu_s: float  # the child's user + system time
    parent_cpu_s: float  # this process's share: fork() copies its page tables, then the wait and the reading
    stdout: str
    stderr: str


def thread_count() -> int:
    """OS threads of this process (not only Python's: MediaPipe and OpenMP start their own)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc: trust Python's view
        import threading

        return threading.active_count()


def classify(code: int | None, stderr: str, command: str) -> str:
    """The campaign's outcome for an exit status (None: killed at the timeout; negative: killed by a signal)."""
    if code is None:
        return "hang"
    if TRACEBACK_MARK in stderr:
        return "traceback"
    if code < 0:
        return f"signal {-code}"
    if code == 2 and stderr.strip().count("\n") != 0:
        return "multiline"
    if code in (0, 2) or (code == 1 and command == "verify"):  # verify: 1 = problems found
        return str(code)
    return f"exit {code}"


def warm_parent(learn_argvs: list[list[str]], work_dir: Path, home: Path, timeout_s: float = 600.0) -> dict:
    """Load into this process what every child would otherwise load again; returns what it did.

    `learn_argvs`: commands on good files; one forked child runs them all (with `home` as its DFLAB_HOME, so
    the campaign's own home stays untouched) and reports the modules they imported, which this process then
    imports too. Raises RuntimeError when the parent ends up with more
    than one thread (forking would not be safe)."""
    os.environ.update(ONE_THREAD_ENV)
    started = time.process_time()
    import torch

    torch.set_num_threads(1)
    from dflab.threads import request_torch_threads

    request_torch_threads(1)
    from dflab.cli.main import build_parser

    build_parser()  # every verb module
    learned = _modules_children_import(learn_argvs, work_dir, home, timeout_s)
    imported = 0
    for name in sorted(learned - set(sys.modules)):
        if name.split(".")[0] in THREAD_STARTING_PACKAGES:
            continue
        try:
            __import__(name)
            imported += 1
        except Exception:  # noqa: BLE001 - a module that only imports in some context: the child imports it
            pass
    _load_thread_free_models()
    threads = thread_count()
    if threads != 1:
        raise RuntimeError(f"warming left {threads} threads in the parent: forking would not be safe")
    return {"modules_imported": imported, "warm_cpu_s": round(time.process_time() - started, 2)}


def _modules_children_import(argvs: list[list[str]], work_dir: Path, home: Path, timeout_s: float) -> set[str]:
    """The modules a forked child imports while it runs `argvs` (empty if it fails: the parent then warms
    without the list)."""
    listing = work_dir / "modules.txt"

    def learn() -> None:
        os.environ.update(LabConfig(home=home).environment(dict(os.environ)))
        _redirect(work_dir / "learn.out", work_dir / "learn.err")
        from dflab.cli.main import main

        for argv in argvs:
            main(argv)
        listing.write_text("\n".join(sorted(n for n in sys.modules if n != "__main__")))

    if in_child(learn, timeout_s=timeout_s) != 0 or not listing.exists():
        return set()
    return set(listing.read_text().split())


def in_child(function, *args, timeout_s: float = 600.0) -> int:
    """Call `function(*args)` in a forked child and return its exit code (0 when it returned). For work that
    leaves native threads behind (building the corpus: OpenCV's pool, the video encoder's threads), done before
    this process warms."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            function(*args)
            code = 0
        except BaseException:  # noqa: BLE001 - shown, and the parent sees the status
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    code, _, _ = _wait(pid, timeout_s)
    return -1 if code is None else code


def _load_thread_free_models() -> None:
    """dlib networks and detectors' warm-ups that start no thread; MediaPipe graphs start executor threads and the
    face-crop network runs in ONNX Runtime (a thread from its import): not here."""
    from dflab.audio import speaker
    from dflab.detect.scanner import default_scanner
    from dflab.faces import models

    models._mp_solutions()  # the import only; graphs are built in the children
    for name in ("dlib_shape5", "dlib_encoder"):
        models.model(name)
    for detector in default_scanner()._instances.values():
        warm = getattr(detector, "warm", None)
        if callable(warm) and not getattr(detector, "warm_starts_threads", False):
            warm()
    speaker._encoder()


def run_forked(argv: list[str], timeout_s: float, work_dir: Path) -> ForkedRun:
    """`dflab <argv>` in a forked child, killed after `timeout_s`."""
    threads = thread_count()
    if threads != 1:
        raise RuntimeError(f"{threads} threads in the parent: a forked child could deadlock")
    out_path, err_path = work_dir / "run.out", work_dir / "run.err"
    sys.stdout.flush()
    sys.stderr.flush()
    start, parent_before = time.perf_counter(), time.process_time()
    pid = os.fork()
    if pid == 0:
        _child(argv, out_path, err_path)  # never returns
    code, cpu_s, _ = _wait(pid, timeout_s)
    seconds = time.perf_counter() - start
    stdout = out_path.read_text(errors="replace") if out_path.exists() else ""
    stderr = err_path.read_text(errors="replace") if err_path.exists() else ""
    parent_cpu_s = time.process_time() - parent_before
    return ForkedRun(classify(code, stderr, argv[0]), seconds, cpu_s, parent_cpu_s, stdout, stderr)


def _redirect(out_path: Path, err_path: Path) -> None:
    """Descriptors 1 and 2 to the files, and Python's streams onto them (the parent's may be replaced, e.g.
    by a test runner's capture)."""
    for fd, path in ((1, out_path), (2, err_path)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)  # noqa: SIM115


def _child(argv: list[str], out_path: Path, err_path: Path) -> None:
    code = 1
    try:
        os.setpgid(0, 0)  # its own process group: a timeout kills whatever it started too
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _redirect(out_path, err_path)
        from dflab.cli.main import main

        try:
            code = main(argv)
        except SystemExit as exc:  # argparse, as the interpreter would turn it into a status
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        code = 0 if code is None else int(code)
    except BaseException:  # noqa: BLE001 - what escaped main(): printed as the interpreter would print it
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _wait(pid: int, timeout_s: float) -> tuple[int | None, float, bool]:
    """(exit code, negative for a signal, or None when killed at the timeout; child CPU seconds; timed out)."""
    timed_out = False
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout_s)
        finally:
            os.close(pidfd)
        timed_out = not ready
    else:  # no pidfd: poll without reaping (wait4 below reaps and reads the child's CPU time)
        deadline = time.monotonic() + timeout_s
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        while os.waitid(os.P_PID, pid, flags) is None and time.monotonic() < deadline:
            time.sleep(0.005)
        timed_out = os.waitid(os.P_PID, pid, flags) is None
    if timed_out:
        for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                target()
            except ProcessLookupError:
                pass
    _, status, usage = os.wait4(pid, 0)
    cpu_s = usage.ru_utime + usage.ru_stime
    if timed_out:
        return None, cpu_s, True
    return os.waitstatus_to_exitcode(status), cpu_s, False
