"""Scans in a worker process (`dflab serve`'s default, --scan-in process): the API answers while the scan process
is frozen mid-scan, the job is completed by that process, and the process leaves when its server is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dflab.errors import UsageError
from dflab.serve.config import ServeConfig
from dflab.serve.worker_process import ScanProcess

TOKEN = "a-test-token-for-the-scan-process"


def test_bad_scan_settings_are_refused_in_one_line():
    with pytest.raises(UsageError, match="--scan-in"):
        ServeConfig(scan_in="elsewhere")
    with pytest.raises(UsageError, match="--scan-nice"):
        ServeConfig(scan_nice=20)


def test_a_scan_process_needs_stores_a_child_can_open(tmp_path):
    pytest.importorskip("fastapi", reason="dflab serve needs fastapi (requirements.txt: make setup)")
    from dflab.lab import Lab
    from dflab.serve.app import build_service, create_app
    from dflab.serve.stores import open_memory_service_stores

    lab = Lab.memory()
    config = ServeConfig(scan_in="process", workers=1)
    service = build_service(lab, config, stores=open_memory_service_stores(tmp_path), scanner=_NoScanner())
    with pytest.raises(UsageError, match="worker process"):
        create_app(lab, config, service=service)
    create_app(lab, ServeConfig(scan_in="process", workers=0), service=service)  # nothing to run: no child


def test_a_lab_config_passes_through_the_environment(tmp_path, monkeypatch):
    from dflab.config import LabConfig

    for config in (LabConfig(home=tmp_path), LabConfig(home=tmp_path / "b", database_url="postgresql://u@h/db")):
        env = config.environment({"DFLAB_DATABASE_URL": "postgresql://stale@elsewhere/db", "KEEP": "1"})
        assert env["KEEP"] == "1"
        monkeypatch.delenv("DFLAB_DATABASE_URL", raising=False)
        for name in ("DFLAB_HOME", "DFLAB_DATABASE_URL"):
            if name in env:
                monkeypatch.setenv(name, env[name])
        assert LabConfig.from_env() == config


def test_the_child_runs_this_code_on_this_lab(tmp_path):
    import dflab

    from dflab.config import LabConfig

    process = ScanProcess(threads=2, lease_s=7.0, nice=5, lab_config=LabConfig(home=tmp_path),
                          on_ready=lambda: None, on_down=lambda reason: None)  # fmt: skip
    command = process.command()
    assert command[:4] == [sys.executable, "-m", "dflab", "worker"]
    assert command[command.index("--parent-pid") + 1] == str(os.getpid())
    assert command[command.index("--concurrency") + 1] == "2" and command[command.index("--nice") + 1] == "5"
    env = process.environment()
    assert env["DFLAB_HOME"] == str(tmp_path) and "DFLAB_DATABASE_URL" not in env
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(Path(dflab.__file__).resolve().parents[1])


class _NoScanner:
    detectors = ()

    def warm(self):
        return self


# --- a real `dflab serve` ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    """Running (a zombie left for an init that does not reap counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process parents from /proc (Linux)")
def test_the_api_answers_while_the_scan_process_is_frozen_mid_scan(tmp_path, shared_data):
    httpx = pytest.importorskip("httpx", reason="the service tests need httpx (requirements.txt: make setup)")
    from dflab.storage.sqlite_jobs import SQLiteJobStore

    picture = shared_data / "face_recognition" / "examples" / "biden.jpg"
    port = _free_port()
    env = {**os.environ, "DFLAB_HOME": str(tmp_path), "DFLAB_TOKEN": TOKEN, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen([sys.executable, "-m", "dflab", "serve", "--port", str(port), "--workers", "1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    worker_pid = None
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {TOKEN}"}
    try:
        assert server.stdout.readline().startswith(f"open http://127.0.0.1:{port}/")
        threading.Thread(target=server.stdout.read, daemon=True).start()
        ready = _until(lambda: httpx.get(f"{base}/readyz", timeout=30), lambda r: r.status_code == 200, 600)
        worker_pid = ready.json()["detail"]["scan_process_pid"]
        assert worker_pid != server.pid and _parent_of(worker_pid) == server.pid

        with open(picture, "rb") as handle:
            scan_id = httpx.post(f"{base}/v1/scans", headers=headers, files={"file": (picture.name, handle)},
                                 timeout=60).json()["id"]  # fmt: skip
        poll = lambda: httpx.get(f"{base}/v1/scans/{scan_id}", headers=headers, timeout=30)  # noqa: E731
        _until(poll, lambda r: r.json()["state"] != "queued", 120)
        os.kill(worker_pid, signal.SIGSTOP)  # the scan holds its process: no thread of it can run now
        try:
            frozen = [poll() for _ in range(3)]
            health = httpx.get(f"{base}/healthz", timeout=30)
        finally:
            os.kill(worker_pid, signal.SIGCONT)
        assert [r.status_code for r in frozen] == [200] * 3 and health.status_code == 200
        assert frozen[-1].json()["state"] in ("running", "succeeded")

        done = _until(poll, lambda r: r.json()["state"] in ("succeeded", "failed"), 300).json()
        assert done["state"] == "succeeded" and done["result"]["path"] == picture.name
        jobs = SQLiteJobStore(tmp_path / "serve" / "service.sqlite")
        try:
            assert jobs.get(scan_id).worker_id.startswith(f"{worker_pid}-")  # scanned by the child, not the API
        finally:
            jobs.close()

        server.send_signal(signal.SIGKILL)
        server.wait(30)
        _until(lambda: _alive(worker_pid), lambda alive: not alive, 30)  # the child leaves with its server
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
        if worker_pid is not None and _alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)


def _until(get, done, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = get()
        except Exception:  # noqa: BLE001 - not answering yet
            value = None
        if value is not None and done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {timeout_s} s: {value!r}")
        time.sleep(0.2)


def test_scans_are_spread_over_the_processes_asked_for():
    assert ServeConfig(workers=2).scan_layout == (1, 2)  # the default: one process of two scan threads
    assert ServeConfig(workers=2, scan_processes=2).scan_layout == (2, 1)
    assert ServeConfig(workers=3, scan_processes=2).scan_layout == (2, 2)  # rounded up so both get the same
    assert ServeConfig(workers=2, scan_processes=5).scan_layout == (2, 1)  # never more processes than scans
    assert ServeConfig(workers=0, scan_processes=2).scan_layout == (0, 0)
    with pytest.raises(UsageError, match="--scan-processes"):
        ServeConfig(scan_processes=0)


def test_the_child_starts_the_other_scan_processes_itself(tmp_path):
    from dflab.config import LabConfig

    def command(**extra) -> list[str]:
        return ScanProcess(threads=1, lease_s=7.0, nice=0, lab_config=LabConfig(home=tmp_path), on_ready=lambda: None,
                           on_down=lambda reason: None, **extra).command()  # fmt: skip

    several = command(processes=2)
    assert several[several.index("--processes") + 1] == "2"
    assert "--processes" not in command()  # one process: the command as before
