"""The fork runner of bench/fuzz.py (dflab.cli.fork_runner): a child forked from a warm parent scans a real
picture to the same --json as a fresh `python -m dflab` process, and crashes, hangs and tracebacks in a child
are told apart. The forking runs in a fresh interpreter: this test process has threads of its own (MediaPipe
graphs from other tests), and the runner rightly refuses to fork such a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dflab.cli.fork_runner import classify

SRC = Path(__file__).resolve().parents[2] / "src"
PICTURE = "dlib_faces/examples/faces/2008_001009.jpg"  # a real photo with two faces: MediaPipe runs in the child

# Warms a parent, then scans in a forked child; then children that hang, raise and crash (main() replaced).
PARENT = """
import json, os, sys, time
from pathlib import Path
from dflab.cli import fork_runner
import dflab.cli.main as cli

picture, work = sys.argv[1], Path(sys.argv[2])
warmed = fork_runner.warm_parent([["scan", picture, "--json"]], work, home=work / "learn-home")
scan = fork_runner.run_forked(["scan", picture, "--json"], 300, work)
threads_after = fork_runner.thread_count()

def hang(argv):
    time.sleep(600)

def bug(argv):
    raise ValueError("a bug")

def crash(argv):
    os.kill(os.getpid(), 11)

def two_lines(argv):
    print("dflab scan: error: one line", file=sys.stderr)
    print("and another", file=sys.stderr)
    return 2

outcomes = {}
for name, fake in (("hang", hang), ("bug", bug), ("crash", crash), ("two_lines", two_lines)):
    cli.main = fake
    outcomes[name] = fork_runner.run_forked(["scan", picture], 2, work).outcome
print(json.dumps({"warmed": warmed, "outcome": scan.outcome, "stdout": scan.stdout, "stderr": scan.stderr,
                  "threads_after": threads_after, "outcomes": outcomes}))
"""


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}  # fmt: skip


def _without_timings(text: str) -> dict:
    result = json.loads(text)
    result.pop("timings")  # seconds per stage: the only field that changes from run to run
    return result


def test_forked_child_scans_a_real_picture_as_a_fresh_process_does(shared_data, tmp_path):
    picture = str(shared_data / PICTURE)
    fresh = subprocess.run([sys.executable, "-m", "dflab", "scan", picture, "--json"], env=_env(),
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    parent = subprocess.run([sys.executable, "-c", PARENT, picture, str(tmp_path)], env=_env(), capture_output=True,
                            text=True, timeout=900)  # fmt: skip
    assert parent.returncode == 0, parent.stderr[-3000:]
    report = json.loads(parent.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "0", report["stderr"][-2000:]
    forked = _without_timings(report["stdout"])
    assert forked["faces"], "the picture's faces were found in the child (MediaPipe built there)"
    assert forked == _without_timings(fresh.stdout)
    assert report["warmed"]["modules_imported"] > 0
    assert report["threads_after"] == 1  # the child's MediaPipe threads stayed in the child
    assert report["outcomes"] == {"hang": "hang", "bug": "traceback", "crash": "signal 11", "two_lines": "multiline"}


def test_outcomes_match_the_subprocess_runner():
    assert classify(0, "", "scan") == "0"
    assert classify(2, "dflab scan: error: not a picture\n", "scan") == "2"
    assert classify(1, "", "verify") == "1"  # verify found problems
    assert classify(1, "", "scan") == "exit 1"
    assert classify(1, "Traceback (most recent call last):\n  ...\nValueError\n", "scan") == "traceback"
    assert classify(None, "", "scan") == "hang"
    assert classify(-9, "", "trace") == "signal 9"
