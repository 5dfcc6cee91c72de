"""`JobStore` on a SQLite database (dflab.storage.SQLiteDatabase): one table, every change one transaction.

`BEGIN IMMEDIATE` (SQLiteDatabase.transaction) makes lease and submit safe between threads and processes: the
write lock is taken before the queued job or the dedup key is looked up, so two workers never lease the same job
and two uploads of the same bytes make one job. `seq` orders the queue (FIFO) and the pages (newest first).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from dflab.storage.jobs import (
    DEAD, DEDUP_STATES, DEFAULT_MAX_ATTEMPTS, FAILED, FINISHED, QUEUED, RUNNING, STATES, SUCCEEDED, Job, JobPage,
    COLUMNS, Submitted, check_submit, new_job_id, page_of, page_query,
)  # fmt: skip

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    owner TEXT,
    dedup_key TEXT,
    idempotency_key TEXT,
    worker_id TEXT,
    lease_expires_at REAL,
    stage TEXT,
    fraction REAL NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, seq);
CREATE INDEX IF NOT EXISTS jobs_dedup ON jobs (dedup_key) WHERE dedup_key IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (ifnull(owner, ''), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (state, lease_expires_at);
"""


class SQLiteJobStore:
    """Jobs in a SQLite file, or in a database shared with the lab's other stores (`database=`)."""

    def __init__(self, path: str | Path | None = None, *, database=None, clock: Callable[[], float] = time.time,
                 synchronous: str = "FULL") -> None:  # fmt: skip
        from dflab.storage.sqlite import SQLiteDatabase

        if (path is None) == (database is None):
            raise ValueError("give a path or a database, not both")
        self._owns_database = database is None
        self.database = database if database is not None else SQLiteDatabase(path, synchronous=synchronous,
                                                                               label="jobs")  # fmt: skip
        self._clock = clock
        with self.database.transaction():
            self._create_schema()

    def _create_schema(self) -> None:
        # executescript would COMMIT the open transaction; run the statements one by one inside it instead.
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self.database.execute(statement)

    # --- writes --------------------------------------------------------------------------------------------

    def submit(self, kind: str, payload: str, *, dedup_key: str | None = None, idempotency_key: str | None = None,
               owner: str | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Submitted:  # fmt: skip
        check_submit(kind, max_attempts)
        with self.database.transaction():
            if idempotency_key is not None:
                row = self._one("WHERE idempotency_key = ? AND ifnull(owner, '') = ?", (idempotency_key, owner or ""))
                if row is not None:
                    return Submitted(row, False, "idempotent")
            if dedup_key is not None:
                marks = ",".join("?" * len(DEDUP_STATES))
                row = self._one(f"WHERE dedup_key = ? AND state IN ({marks}) ORDER BY seq DESC LIMIT 1",
                                (dedup_key, *DEDUP_STATES))  # fmt: skip
                if row is not None:
                    return Submitted(row, False, "dedup")
            now = self._clock()
            job_id = new_job_id()
            self.database.execute(
                "INSERT INTO jobs (id, kind, payload, state, max_attempts, owner, dedup_key, idempotency_key, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, kind, payload, QUEUED, max_attempts, owner, dedup_key, idempotency_key, now, now),
            )
            return Submitted(self._one("WHERE id = ?", (job_id,)), True, "new")

    def lease(self, worker_id: str, lease_s: float, *, kinds: tuple[str, ...] | None = None) -> Job | None:
        with self.database.transaction():
            where, args = "WHERE state = ?", [QUEUED]
            if kinds:
                where += f" AND kind IN ({','.join('?' * len(kinds))})"
                args += list(kinds)
            row = self._one(where + " ORDER BY seq LIMIT 1", tuple(args))
            if row is None:
                return None
            now = self._clock()
            self.database.execute(
                "UPDATE jobs SET state = ?, attempts = attempts + 1, worker_id = ?, lease_expires_at = ?, "
                "updated_at = ?, error = NULL WHERE id = ?",
                (RUNNING, worker_id, now + lease_s, now, row.id),
            )
            return self._one("WHERE id = ?", (row.id,))

    def heartbeat(self, job_id: str, worker_id: str, lease_s: float, *, stage: str | None = None,
                  fraction: float | None = None) -> bool:  # fmt: skip
        with self.database.transaction():
            now = self._clock()
            cursor = self.database.execute(
                "UPDATE jobs SET lease_expires_at = ?, updated_at = ?, stage = coalesce(?, stage), "
                "fraction = coalesce(?, fraction) WHERE id = ? AND state = ? AND worker_id = ?",
                (now + lease_s, now, stage, fraction, job_id, RUNNING, worker_id),
            )
            return cursor.rowcount == 1

    def complete(self, job_id: str, worker_id: str, result: str) -> bool:
        with self.database.transaction():
            now = self._clock()
            cursor = self.database.execute(
                "UPDATE jobs SET state = ?, result = ?, fraction = 1, lease_expires_at = NULL, updated_at = ?, "
                "finished_at = ? WHERE id = ? AND state = ? AND worker_id = ?",
                (SUCCEEDED, result, now, now, job_id, RUNNING, worker_id),
            )
            return cursor.rowcount == 1

    def fail(self, job_id: str, worker_id: str, error: str, *, retry: bool) -> str | None:
        with self.database.transaction():
            row = self._one("WHERE id = ? AND state = ? AND worker_id = ?", (job_id, RUNNING, worker_id))
            if row is None:
                return None
            state = (QUEUED if row.attempts < row.max_attempts else DEAD) if retry else FAILED
            self._set_after_attempt(row.id, state, error)
            return state

    def requeue_expired(self) -> int:
        with self.database.transaction():
            now = self._clock()
            rows = self._all("WHERE state = ? AND lease_expires_at < ?", (RUNNING, now))
            for row in rows:
                state = QUEUED if row.attempts < row.max_attempts else DEAD
                self._set_after_attempt(row.id, state, f"the worker {row.worker_id} stopped answering (lease expired)")
            return len(rows)

    def _set_after_attempt(self, job_id: str, state: str, error: str) -> None:
        now = self._clock()
        finished_at = now if state in FINISHED else None
        self.database.execute(
            "UPDATE jobs SET state = ?, error = ?, lease_expires_at = NULL, updated_at = ?, finished_at = ?, "
            "stage = CASE WHEN ? = 'queued' THEN NULL ELSE stage END, "
            "fraction = CASE WHEN ? = 'queued' THEN 0 ELSE fraction END WHERE id = ?",
            (state, error, now, finished_at, state, state, job_id),
        )

    def purge_finished(self, before: float) -> list[Job]:
        marks = ",".join("?" * len(FINISHED))
        with self.database.transaction():
            rows = self._all(f"WHERE state IN ({marks}) AND finished_at < ?", (*FINISHED, before))
            self.database.execute(f"DELETE FROM jobs WHERE state IN ({marks}) AND finished_at < ?", (*FINISHED, before))
            return rows

    # --- reads ---------------------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        return self._one("WHERE id = ?", (job_id,))

    def list(self, *, limit: int = 50, cursor: str | None = None, owner: str | None = None,
             state: str | None = None) -> JobPage:  # fmt: skip
        sql, args = page_query("?", limit=limit, cursor=cursor, owner=owner, state=state)
        return page_of(self.database.execute(sql, args).fetchall(), limit)

    def counts(self) -> dict[str, int]:
        found = dict(self.database.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def _one(self, where: str, args: tuple) -> Job | None:
        row = self.database.execute(f"SELECT {COLUMNS} FROM jobs {where}", args).fetchone()
        return Job(*row) if row is not None else None

    def _all(self, where: str, args: tuple) -> list[Job]:
        return [Job(*row) for row in self.database.execute(f"SELECT {COLUMNS} FROM jobs {where}", args).fetchall()]

    def close(self) -> None:
        if self._owns_database:
            self.database.close()


__all__ = ["SQLiteJobStore"]
