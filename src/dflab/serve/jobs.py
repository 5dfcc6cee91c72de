"""The worker pool: threads that lease scan jobs from the JobStore and run them on one shared Scanner.

Each worker leases a job (queued -> running), reports progress through heartbeats (which also keep its lease),
writes the report and key frames, and completes the job. What happens when things go wrong:
  * the file cannot be scanned (a DflabError: bad media, unsupported, too long): the job fails at once with the
    CLI's one-line message; trying again would give the same answer;
  * anything else (a bug, a model crash): the job goes back to the queue until it has used max_attempts, then
    to the dead letter;
  * the process dies: its leases stop being renewed, and `requeue_expired` (the sweeper, in this process or the
    next one) queues the jobs again. `complete` accepts only the lease holder, so a job succeeds exactly once.
Artifacts of attempt N go under reports/<job id>/<N>/, so a worker that lost its lease never overwrites the files
of the attempt that completed (the job's `attempts` names that attempt).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path

from dflab.errors import DflabError
from dflab.serve.config import ServeConfig
from dflab.serve.scan_options import scan_overrides
from dflab.serve.uploads import UploadStore
from dflab.storage.jobs import Job, JobStore

SCAN = "scan"
HEARTBEAT_EVERY_S = 0.5  # at most this often from progress callbacks (the UI polls about once a second)
log = logging.getLogger("dflab.serve")


def artifact_dir(reports_dir: Path, job: Job) -> Path:
    return reports_dir / job.id / str(job.attempts)


class Progress:
    """Turns the scanner's stage callbacks into (stage, fraction) heartbeats."""

    def __init__(self, jobs: JobStore, job: Job, worker_id: str, lease_s: float, n_detectors: int) -> None:
        self.jobs, self.job, self.worker_id, self.lease_s = jobs, job, worker_id, lease_s
        self.n_detectors = max(1, n_detectors)
        self.stage, self.fraction = "queued", 0.0
        self.detectors_seen = 0
        self.lost = False
        self._last = 0.0
        self._lock = threading.Lock()

    def on_stage(self, stage: str) -> None:
        with self._lock:
            if stage == "decode+faces":
                self.stage, self.fraction = "decoding and finding faces", 0.05
            else:
                self.detectors_seen += 1
                self.stage = f"running {stage}"
                self.fraction = min(0.95, 0.35 + 0.6 * (self.detectors_seen - 1) / self.n_detectors)
        self.beat(force=True)

    def set(self, stage: str, fraction: float) -> None:
        with self._lock:
            self.stage, self.fraction = stage, fraction
        self.beat(force=True)

    def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < HEARTBEAT_EVERY_S:
            return
        self._last = now
        with self._lock:
            stage, fraction = self.stage, self.fraction
        if not self.jobs.heartbeat(self.job.id, self.worker_id, self.lease_s, stage=stage, fraction=fraction):
            self.lost = True  # requeued after an expired lease, or finished elsewhere: our answer will not count


class WorkerPool:
    """`config.workers` threads, a heartbeat thread for long stages, and a sweeper (expired leases, retention)."""

    def __init__(self, jobs: JobStore, scanner, uploads: UploadStore, reports_dir: Path, config: ServeConfig,
                 on_finished=None) -> None:  # fmt: skip
        self.jobs, self.scanner, self.uploads, self.config = jobs, scanner, uploads, config
        self.reports_dir = Path(reports_dir)
        self.on_finished = on_finished or (lambda job: None)
        self.instance = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"  # worker ids differ across restarts
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, Progress] = {}
        self._running_lock = threading.Lock()

    # --- lifetime ------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.sweep()
        for i in range(self.config.workers):
            self._spawn(self._work, f"dflab-worker-{i}", f"{self.instance}/w{i}")
        self._spawn(self._heartbeats, "dflab-heartbeat")
        self._spawn(self._sweeper, "dflab-sweeper")

    def _spawn(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop leasing; jobs still running keep their lease until it expires (then another worker takes them)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)

    # --- the loops -----------------------------------------------------------------------------------------

    def _work(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                job = self.jobs.lease(worker_id, self.config.lease_s, kinds=(SCAN,))
            except DflabError as exc:  # the database was busy: try again shortly
                log.warning("lease failed: %s", exc)
                job = None
            if job is None:
                self._stop.wait(self.config.poll_s)
                continue
            try:
                self.run(job, worker_id)
            except Exception:  # noqa: BLE001 - the store failed mid-job: its lease runs out and it is retried
                log.exception("worker %s lost job %s", worker_id, job.id)

    def _heartbeats(self) -> None:
        while not self._stop.wait(self.config.lease_s / 4):
            with self._running_lock:
                running = list(self._running.values())
            for progress in running:
                try:
                    progress.beat(force=True)
                except DflabError as exc:
                    log.warning("heartbeat failed: %s", exc)

    def _sweeper(self) -> None:
        last_purge = time.monotonic()
        while not self._stop.wait(min(self.config.lease_s / 2, self.config.sweep_s)):
            try:
                self.jobs.requeue_expired()
                if time.monotonic() - last_purge >= self.config.sweep_s:
                    self.purge()
                    last_purge = time.monotonic()
            except DflabError as exc:
                log.warning("sweep failed: %s", exc)

    def sweep(self) -> None:
        self.jobs.requeue_expired()
        self.purge()

    def purge(self) -> None:
        """Retention: finished jobs, their reports and uploads not used for keep_days."""
        before = time.time() - self.config.keep_days * 86400
        for job in self.jobs.purge_finished(before):
            _remove_tree(self.reports_dir / job.id)
        live = set()
        for state in ("queued", "running"):
            cursor = None
            while True:
                page = self.jobs.list(limit=500, cursor=cursor, state=state)
                live |= {json.loads(j.payload).get("sha256", "") for j in page.jobs}
                cursor = page.next_cursor
                if cursor is None:
                    break
        self.uploads.purge(before, keep=live)

    # --- one job -------------------------------------------------------------------------------------------

    def run(self, job: Job, worker_id: str) -> None:
        payload = json.loads(job.payload)
        progress = Progress(self.jobs, job, worker_id, self.config.lease_s, len(self.scanner.detectors))
        with self._running_lock:
            self._running[job.id] = progress
        try:
            state = self._scan(job, worker_id, payload, progress)
        finally:
            with self._running_lock:
                self._running.pop(job.id, None)
        if state in ("succeeded", "failed", "dead"):
            finished = self.jobs.get(job.id)
            if finished is not None:
                self.on_finished(finished)

    def _scan(self, job: Job, worker_id: str, payload: dict, progress: Progress) -> str | None:
        """Scan, keep the report, complete; the job's new state (None: another worker holds it now). Errors of
        the job store itself are left to the caller: the lease runs out and the job is retried."""
        progress.set("starting", 0.01)
        try:
            result = self.scanner.scan(payload["path"], progress=progress.on_stage,
                                       **scan_overrides(payload.get("options", {}), payload.get("reference_path")))
        except DflabError as exc:  # the file cannot be scanned: the same answer every time
            return self.jobs.fail(job.id, worker_id, self.uploads.display_name(str(exc)), retry=False)
        except Exception as exc:  # noqa: BLE001 - a bug or a crash in a model: retried, then dead-lettered
            log.exception("scan job %s failed", job.id)
            return self.jobs.fail(job.id, worker_id, f"internal error: {type(exc).__name__}", retry=True)
        progress.set("writing the report", 0.97)
        document = json.loads(self.uploads.display_name(json.dumps(result.to_json())))
        self._write_artifacts(job, result, payload["filename"])
        return "succeeded" if self.jobs.complete(job.id, worker_id, json.dumps(document)) else None

    def _write_artifacts(self, job: Job, result, filename: str) -> None:
        from dflab.report.scan_report import write_scan_report

        out = artifact_dir(self.reports_dir, job)
        out.mkdir(parents=True, exist_ok=True)
        shown = dataclasses.replace(result, path=Path(filename))
        html_path = write_scan_report(shown, out, "report")
        html_path.write_text(self.uploads.display_name(html_path.read_text()))
        (out / "report.json").unlink(missing_ok=True)  # the job's result is the document
        frames = []
        for i, frame in enumerate(result.key_frames):
            (out / f"keyframe-{i}.jpg").write_bytes(frame.jpeg)
            frames.append({"index": i, "time_s": round(float(frame.time_s), 3), "width": frame.width,
                           "height": frame.height})  # fmt: skip
        (out / "keyframes.json").write_text(json.dumps(frames))


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
