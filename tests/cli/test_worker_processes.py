"""`dflab worker --processes 2`: two scan processes on one SQLite queue, the second started by the first in its
session; jobs are spread over both, each completes once with the CLI's document, and the second process leaves
when the first is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import wait_until

SRC = Path(__file__).resolve().parents[2] / "src"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie left for an init that does not reap counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process parents from /proc (Linux)")
def test_two_scan_processes_share_the_queue_and_leave_with_the_first(shared_data, tmp_path):
    from dflab.config import LabConfig
    from dflab.detect.scanner import Scanner
    from dflab.serve.stores import open_service_stores
    from dflab.storage.jobs import SUCCEEDED

    env = {**os.environ, "DFLAB_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    env.pop("DFLAB_DATABASE_URL", None)
    stores = open_service_stores(LabConfig(home=tmp_path / "home"))
    pictures = sorted((shared_data / "cnndetection" / "crops").glob("*_real.png"))[:6]
    worker = subprocess.Popen([sys.executable, "-m", "dflab", "worker", "--processes", "2", "--lease-s", "30"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    sibling = None
    try:
        assert worker.stderr.readline().startswith("dflab worker: ready: 2 process(es)")
        (sibling,) = _children(worker.pid)
        assert os.getsid(sibling) == os.getsid(worker.pid), "one session: one scheduling group for both"
        ids = [stores.jobs.submit("scan", json.dumps({"path": str(p), "filename": p.name, "sha256": f"s{i}",
                                                      "options": {}})).job.id for i, p in enumerate(pictures)]  # fmt: skip
        wait_until(lambda: stores.jobs.counts()[SUCCEEDED] == len(ids), 600, "every job to succeed")
        finished = [stores.jobs.get(i) for i in ids]
        assert all(j.attempts == 1 for j in finished)
        assert {j.worker_id.split("-")[0] for j in finished} == {str(worker.pid), str(sibling)}, "both scanned"
        scanner = Scanner()
        for picture, job in zip(pictures, finished):
            expected = {k: v for k, v in scanner.scan(picture).to_json().items() if k != "timings"}
            got = {k: v for k, v in json.loads(job.result).items() if k != "timings"}
            assert got == expected

        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        wait_until(lambda: not _alive(sibling), 30, "the second process to leave with the first")
    finally:
        for pid in (worker.pid, sibling):
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        worker.wait(30)
        stores.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_kernel_kills_a_worker_the_moment_its_parent_is_killed(tmp_path):
    """No watching thread here: the process sleeps, and only the kernel's parent-death signal can end it."""
    pid_file = tmp_path / "child.pid"
    child_code = (
        "import os, time, sys; from pathlib import Path; "
        "from dflab.cli.worker import _ask_the_kernel_to_kill_this_process_with_its_parent as ask; ask(); "
        f"Path({str(pid_file)!r}).write_text(str(os.getpid())); time.sleep(60)"
    )
    parent_code = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child_code!r}]); time.sleep(60)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    parent = subprocess.Popen([sys.executable, "-c", parent_code], env=env)
    try:
        wait_until(pid_file.exists, timeout_s=30, what="the child to start")
        child = int(pid_file.read_text())
        assert Path(f"/proc/{child}").exists()
    finally:
        parent.kill()
        parent.wait()

    def gone() -> bool:
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        return state in ("Z", "X")

    wait_until(gone, timeout_s=5, what="the child to die with its parent")
