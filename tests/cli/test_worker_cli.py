"""`dflab worker` on a PostgreSQL job queue: two worker processes, one SIGKILLed while it holds a job; every job
still completes exactly once (the killed worker's lease runs out, the job is queued again and finished by the
other worker; nobody completes it twice)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from dflab.storage.jobs import SUCCEEDED

from .conftest import wait_until

SRC = Path(__file__).resolve().parents[2] / "src"
LEASE_S = 4.0


def _worker(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dflab", "worker", "--concurrency", "1", "--lease-s", str(LEASE_S)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_two_workers_one_killed_every_job_completes_once(shared_data, postgres_url, tmp_path):
    from dflab.storage.postgres_jobs import PostgresJobStore

    env = {**os.environ, "DFLAB_HOME": str(tmp_path / "home"), "DFLAB_DATABASE_URL": postgres_url,
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    pictures = sorted((shared_data / "cnndetection" / "crops").glob("*_real.png"))[:6]
    jobs = PostgresJobStore(postgres_url)
    ids = [jobs.submit("scan", json.dumps({"path": str(p), "filename": p.name, "sha256": f"s{i}", "options": {}}),
                       max_attempts=3).job.id for i, p in enumerate(pictures)]  # fmt: skip
    victim, survivor = _worker(env), _worker(env)
    try:
        prefix = f"{victim.pid}-"
        held = wait_until(lambda: [j for j in jobs.list(limit=50, state="running").jobs
                              if (j.worker_id or "").startswith(prefix)], 300, "the first worker to hold a job")  # fmt: skip
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        killed_job = held[0].id
        wait_until(lambda: jobs.counts()[SUCCEEDED] == len(ids), 600, "every job to succeed")
    finally:
        for proc in (victim, survivor):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        out, err = survivor.communicate(timeout=60)
        victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    assert survivor.returncode == 0, err[-2000:]
    finished = {i: jobs.get(i) for i in ids}
    assert all(j.state == SUCCEEDED and j.result is not None for j in finished.values())
    assert all(json.loads(j.result)["verdict"] in ("authentic", "suspicious", "manipulated") for j in finished.values())
    redone = finished[killed_job]
    assert redone.attempts == 2 and not redone.worker_id.startswith(prefix), "taken over by the other worker"
    assert all(j.attempts == 1 for i, j in finished.items() if i != killed_job), "no other job ran twice"
    jobs.close()
