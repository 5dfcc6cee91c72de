"""`JobStore` in process memory, for tests: the same rules as the SQLite store, one lock instead of a database."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from dflab.storage.jobs import (
    DEAD, DEDUP_STATES, DEFAULT_MAX_ATTEMPTS, FAILED, FINISHED, QUEUED, RUNNING, STATES, SUCCEEDED, Job, JobPage,
    Submitted, check_limit, check_state, check_submit, new_job_id, parse_cursor,
)  # fmt: skip


class MemoryJobStore:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._seq: dict[str, int] = {}  # job id -> submission order
        self._next_seq = 1

    def submit(self, kind: str, payload: str, *, dedup_key: str | None = None, idempotency_key: str | None = None,
               owner: str | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Submitted:  # fmt: skip
        check_submit(kind, max_attempts)
        with self._lock:
            ordered = sorted(self._jobs.values(), key=lambda j: -self._seq[j.id])
            if idempotency_key is not None:
                for job in ordered:
                    if job.idempotency_key == idempotency_key and (job.owner or "") == (owner or ""):
                        return Submitted(job, False, "idempotent")
            if dedup_key is not None:
                for job in ordered:
                    if job.dedup_key == dedup_key and job.state in DEDUP_STATES:
                        return Submitted(job, False, "dedup")
            now = self._clock()
            job = Job(new_job_id(), kind, payload, QUEUED, 0, max_attempts, owner, dedup_key, idempotency_key, None,
                      None, None, 0.0, None, None, now, now, None)  # fmt: skip
            self._jobs[job.id] = job
            self._seq[job.id] = self._next_seq
            self._next_seq += 1
            return Submitted(job, True, "new")

    def lease(self, worker_id: str, lease_s: float, *, kinds: tuple[str, ...] | None = None) -> Job | None:
        with self._lock:
            queued = [j for j in self._jobs.values() if j.state == QUEUED and (not kinds or j.kind in kinds)]
            if not queued:
                return None
            job = min(queued, key=lambda j: self._seq[j.id])
            now = self._clock()
            return self._put(job, state=RUNNING, attempts=job.attempts + 1, worker_id=worker_id,
                             lease_expires_at=now + lease_s, updated_at=now, error=None)  # fmt: skip

    def heartbeat(self, job_id: str, worker_id: str, lease_s: float, *, stage: str | None = None,
                  fraction: float | None = None) -> bool:  # fmt: skip
        with self._lock:
            job = self._held(job_id, worker_id)
            if job is None:
                return False
            now = self._clock()
            self._put(job, lease_expires_at=now + lease_s, updated_at=now, stage=stage if stage is not None else job.stage,
                      fraction=fraction if fraction is not None else job.fraction)  # fmt: skip
            return True

    def complete(self, job_id: str, worker_id: str, result: str) -> bool:
        with self._lock:
            job = self._held(job_id, worker_id)
            if job is None:
                return False
            now = self._clock()
            self._put(job, state=SUCCEEDED, result=result, fraction=1.0, lease_expires_at=None, updated_at=now,
                      finished_at=now)  # fmt: skip
            return True

    def fail(self, job_id: str, worker_id: str, error: str, *, retry: bool) -> str | None:
        with self._lock:
            job = self._held(job_id, worker_id)
            if job is None:
                return None
            state = (QUEUED if job.attempts < job.max_attempts else DEAD) if retry else FAILED
            self._after_attempt(job, state, error)
            return state

    def requeue_expired(self) -> int:
        with self._lock:
            now = self._clock()
            expired = [j for j in self._jobs.values() if j.state == RUNNING and j.lease_expires_at < now]
            for job in expired:
                state = QUEUED if job.attempts < job.max_attempts else DEAD
                self._after_attempt(job, state, f"the worker {job.worker_id} stopped answering (lease expired)")
            return len(expired)

    def purge_finished(self, before: float) -> list[Job]:
        with self._lock:
            old = [j for j in self._jobs.values() if j.state in FINISHED and j.finished_at < before]
            for job in old:
                del self._jobs[job.id]
            return old

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self, *, limit: int = 50, cursor: str | None = None, owner: str | None = None,
             state: str | None = None) -> JobPage:  # fmt: skip
        limit = check_limit(limit)
        check_state(state)
        after = parse_cursor(cursor)
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: -self._seq[j.id])
            jobs = [j for j in jobs if (after is None or self._seq[j.id] < after) and (owner is None or j.owner == owner)
                    and (state is None or j.state == state)]  # fmt: skip
            page = jobs[:limit]
            next_cursor = str(self._seq[page[-1].id]) if len(jobs) > limit else None
            return JobPage(page, next_cursor)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {state: sum(j.state == state for j in self._jobs.values()) for state in STATES}

    def close(self) -> None:
        pass

    # --- inside the lock -----------------------------------------------------------------------------------

    def _held(self, job_id: str, worker_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.state == RUNNING and job.worker_id == worker_id else None

    def _after_attempt(self, job: Job, state: str, error: str) -> None:
        now = self._clock()
        requeued = state == QUEUED
        self._put(job, state=state, error=error, lease_expires_at=None, updated_at=now,
                  finished_at=now if state in FINISHED else None, stage=None if requeued else job.stage,
                  fraction=0.0 if requeued else job.fraction)  # fmt: skip

    def _put(self, job: Job, **changes) -> Job:
        job = dataclasses.replace(job, **changes)
        self._jobs[job.id] = job
        return job


__all__ = ["MemoryJobStore"]
