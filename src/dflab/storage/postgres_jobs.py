"""`JobStore` on PostgreSQL: one queue shared by `dflab serve` instances and `dflab worker` processes on any
number of machines.

Why it is safe without a global lock:
  * `lease` picks the oldest queued job with `SELECT ... FOR UPDATE SKIP LOCKED`: a row another worker is leasing
    right now is skipped rather than waited for, so N workers lease N different jobs at once and never the same.
  * `heartbeat`, `complete` and `fail` are single UPDATEs (or a locked read then an UPDATE) conditioned on
    `state = running AND worker_id = me`: a worker whose lease expired and was requeued changes nothing, so a
    job succeeds exactly once.
  * `requeue_expired` locks the expired rows (SKIP LOCKED) and counts the attempt; a job that used every
    attempt goes to `dead` with the reason (the dead letter).
  * `submit` serialises on a transaction-scoped advisory lock per dedup/idempotency key, so two uploads of the
    same bytes at the same moment make one job.

Times come from the injected clock (the contract tests use a fake one), never from the server's now().
Tables: storage/migrations.py (version 3).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dflab.storage.jobs import (
    DEAD, DEDUP_STATES, DEFAULT_MAX_ATTEMPTS, FAILED, FINISHED, QUEUED, RUNNING, STATES, SUCCEEDED, Job, JobPage,
    COLUMNS, Submitted, check_submit, new_job_id, page_of, page_query,
)  # fmt: skip
from dflab.storage.postgres import PostgresDatabase, PostgresStore


class PostgresJobStore(PostgresStore):
    """Jobs in PostgreSQL: its own pool for `url`, or the tables inside a shared `database`."""

    def __init__(self, url: str | None = None, *, database: PostgresDatabase | None = None,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self._clock = clock
        super().__init__(url, database=database, what="job store", label="jobs")

    # --- writes --------------------------------------------------------------------------------------------

    def submit(self, kind: str, payload: str, *, dedup_key: str | None = None, idempotency_key: str | None = None,
               owner: str | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Submitted:  # fmt: skip
        check_submit(kind, max_attempts)
        db = self.database
        with db.transaction():
            if idempotency_key is not None:
                db.advisory_lock(f"dflab.jobs.idem.{owner or ''}.{idempotency_key}")
                row = self._one("WHERE idempotency_key = %s AND coalesce(owner, '') = %s",
                                (idempotency_key, owner or ""))  # fmt: skip
                if row is not None:
                    return Submitted(row, False, "idempotent")
            if dedup_key is not None:
                db.advisory_lock(f"dflab.jobs.dedup.{dedup_key}")
                row = self._one("WHERE dedup_key = %s AND state = ANY(%s) ORDER BY seq DESC LIMIT 1",
                                (dedup_key, list(DEDUP_STATES)))  # fmt: skip
                if row is not None:
                    return Submitted(row, False, "dedup")
            now = self._clock()
            job_id = new_job_id()
            db.execute(
                "INSERT INTO jobs (id, kind, payload, state, max_attempts, owner, dedup_key, idempotency_key, "
                "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (job_id, kind, payload, QUEUED, max_attempts, owner, dedup_key, idempotency_key, now, now),
            )
            return Submitted(self._one("WHERE id = %s", (job_id,)), True, "new")

    def lease(self, worker_id: str, lease_s: float, *, kinds: tuple[str, ...] | None = None) -> Job | None:
        now = self._clock()
        where, args = "state = %s", [QUEUED]
        if kinds:
            where += " AND kind = ANY(%s)"
            args.append(list(kinds))
        with self.database.transaction():
            rows = self.database.execute(
                f"UPDATE jobs SET state = %s, attempts = attempts + 1, worker_id = %s, lease_expires_at = %s, "
                f"updated_at = %s, error = NULL WHERE seq = (SELECT seq FROM jobs WHERE {where} ORDER BY seq "
                f"LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}",
                (RUNNING, worker_id, now + lease_s, now, *args),
            ).fetchall()
        return Job(*rows[0]) if rows else None

    def heartbeat(self, job_id: str, worker_id: str, lease_s: float, *, stage: str | None = None,
                  fraction: float | None = None) -> bool:  # fmt: skip
        now = self._clock()
        with self.database.transaction():
            cursor = self.database.execute(
                "UPDATE jobs SET lease_expires_at = %s, updated_at = %s, stage = coalesce(%s, stage), "
                "fraction = coalesce(%s, fraction) WHERE id = %s AND state = %s AND worker_id = %s",
                (now + lease_s, now, stage, fraction, job_id, RUNNING, worker_id),
            )
            return cursor.rowcount == 1

    def complete(self, job_id: str, worker_id: str, result: str) -> bool:
        now = self._clock()
        with self.database.transaction():
            cursor = self.database.execute(
                "UPDATE jobs SET state = %s, result = %s, fraction = 1, lease_expires_at = NULL, updated_at = %s, "
                "finished_at = %s WHERE id = %s AND state = %s AND worker_id = %s",
                (SUCCEEDED, result, now, now, job_id, RUNNING, worker_id),
            )
            return cursor.rowcount == 1

    def fail(self, job_id: str, worker_id: str, error: str, *, retry: bool) -> str | None:
        with self.database.transaction():
            row = self._one("WHERE id = %s AND state = %s AND worker_id = %s FOR UPDATE", (job_id, RUNNING, worker_id))
            if row is None:
                return None
            state = (QUEUED if row.attempts < row.max_attempts else DEAD) if retry else FAILED
            self._set_after_attempt(row.id, state, error)
            return state

    def requeue_expired(self) -> int:
        with self.database.transaction():
            rows = self._all("WHERE state = %s AND lease_expires_at < %s FOR UPDATE SKIP LOCKED",
                             (RUNNING, self._clock()))  # fmt: skip
            for row in rows:
                state = QUEUED if row.attempts < row.max_attempts else DEAD
                self._set_after_attempt(row.id, state, f"the worker {row.worker_id} stopped answering (lease expired)")
            return len(rows)

    def _set_after_attempt(self, job_id: str, state: str, error: str) -> None:
        now = self._clock()
        requeued = state == QUEUED
        self.database.execute(
            "UPDATE jobs SET state = %s, error = %s, lease_expires_at = NULL, updated_at = %s, finished_at = %s, "
            "stage = CASE WHEN %s THEN NULL ELSE stage END, fraction = CASE WHEN %s THEN 0 ELSE fraction END "
            "WHERE id = %s",
            (state, error, now, now if state in FINISHED else None, requeued, requeued, job_id),
        )

    def purge_finished(self, before: float) -> list[Job]:
        with self.database.transaction():
            rows = self.database.execute(
                f"DELETE FROM jobs WHERE state = ANY(%s) AND finished_at < %s RETURNING {COLUMNS}",
                (list(FINISHED), before),
            ).fetchall()
            return [Job(*row) for row in rows]

    # --- reads ---------------------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        return self._one("WHERE id = %s", (job_id,))

    def list(self, *, limit: int = 50, cursor: str | None = None, owner: str | None = None,
             state: str | None = None) -> JobPage:  # fmt: skip
        sql, args = page_query("%s", limit=limit, cursor=cursor, owner=owner, state=state)
        return page_of(self.database.execute(sql, args).fetchall(), limit)

    def counts(self) -> dict[str, int]:
        found = dict(self.database.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def _one(self, where: str, args: tuple) -> Job | None:
        row = self.database.execute(f"SELECT {COLUMNS} FROM jobs {where}", args).fetchone()
        return Job(*row) if row is not None else None

    def _all(self, where: str, args: tuple) -> list[Job]:
        return [Job(*row) for row in self.database.execute(f"SELECT {COLUMNS} FROM jobs {where}", args).fetchall()]


__all__ = ["PostgresJobStore"]
