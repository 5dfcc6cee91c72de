"""The job queue behind `dflab serve`: the `JobStore` interface every backend implements, and its value types.

A job is submitted once, leased by one worker at a time, and finishes exactly once:

    queued --lease--> running --complete--> succeeded
                         |  \\--fail(retry=False)--> failed
                         |   \\-fail(retry=True)--> queued again, or dead once max_attempts are used
                         \\--lease expired, requeue_expired()--> queued again, or dead once max_attempts are used

Why each rule:
  * `submit` deduplicates on `dedup_key` (sha256 of the bytes + options + model fingerprints, made by the caller):
    a job with the same key that is queued, running or succeeded is returned instead of a new one; a failed or
    dead one is not (asking again is how a client retries). An `idempotency_key` (scoped to `owner`) returns the
    job first submitted with it, whatever its state, so a client may resend a request whose answer it lost.
  * Leases expire: a worker that dies (SIGKILL, power loss) holds its job only until `lease_expires_at`; then
    `requeue_expired` gives it to another worker. `complete`, `fail` and `heartbeat` take the worker id and act
    only while that worker still holds the job, so a worker that lost its lease cannot finish a job twice.
  * Attempts are counted at lease time, so a job that kills its worker every time ends `dead` (the dead letter)
    after `max_attempts` instead of looping forever.

Times are seconds since the epoch from the store's clock (injectable, so tests need not sleep). Payloads and
results are JSON text: the store never interprets them. Implementations: `SQLiteJobStore` (sqlite_jobs.py, on
dflab.storage.SQLiteDatabase) and `MemoryJobStore` (memory_jobs.py, for tests); the contract tests in
tests/storage/test_job_store_contract.py run against each, and a new backend joins by adding a factory there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

from dflab.errors import UsageError

QUEUED, RUNNING, SUCCEEDED, FAILED, DEAD = "queued", "running", "succeeded", "failed", "dead"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, DEAD)
FINISHED = (SUCCEEDED, FAILED, DEAD)
# States in which a job answers for its dedup key: a new submission with the same key gets this job back.
DEDUP_STATES = (QUEUED, RUNNING, SUCCEEDED)
DEFAULT_MAX_ATTEMPTS = 3
MAX_PAGE = 500


@dataclass(frozen=True)
class Job:
    id: str
    kind: str  # what the worker does with it ("scan")
    payload: str  # JSON text given to submit
    state: str  # one of STATES
    attempts: int  # leases handed out so far
    max_attempts: int
    owner: str | None  # who submitted it (an API key's name); scopes the idempotency key
    dedup_key: str | None
    idempotency_key: str | None
    worker_id: str | None  # who holds (or last held) the lease
    lease_expires_at: float | None
    stage: str | None  # progress reported by the worker: what it is doing
    fraction: float  # and how far it is, 0..1
    result: str | None  # JSON text given to complete
    error: str | None  # the message given to fail (or why the lease was lost)
    created_at: float
    updated_at: float
    finished_at: float | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


@dataclass(frozen=True)
class Submitted:
    """What `submit` did: `created` False means an existing job answered (`reason` says why)."""

    job: Job
    created: bool
    reason: str  # "new", "dedup" (same dedup key) or "idempotent" (same idempotency key)


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None  # pass to list() for the next (older) page; None: this was the last


@runtime_checkable
class JobStore(Protocol):
    """Storage contract shared by SQLiteJobStore, MemoryJobStore and any future backend (PostgreSQL)."""

    def submit(self, kind: str, payload: str, *, dedup_key: str | None = None, idempotency_key: str | None = None,
               owner: str | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Submitted:  # fmt: skip
        """A new queued job, or the existing one answering for `idempotency_key` (same owner) or `dedup_key`
        (queued, running or succeeded). The idempotency key is checked first."""
        ...

    def lease(self, worker_id: str, lease_s: float, *, kinds: tuple[str, ...] | None = None) -> Job | None:
        """The oldest queued job (of `kinds`, if given), now running for `worker_id` until now + lease_s, its
        attempts counted; None when nothing is queued. Two workers never get the same job."""
        ...

    def heartbeat(self, job_id: str, worker_id: str, lease_s: float, *, stage: str | None = None,
                  fraction: float | None = None) -> bool:  # fmt: skip
        """Extend the lease to now + lease_s and record progress. False when the worker no longer holds the
        job (it expired and was requeued, or the job finished): the worker should stop."""
        ...

    def complete(self, job_id: str, worker_id: str, result: str) -> bool:
        """running -> succeeded with `result`, only if `worker_id` holds the job; False (nothing changed)
        otherwise. A job succeeds at most once."""
        ...

    def fail(self, job_id: str, worker_id: str, error: str, *, retry: bool) -> str | None:
        """The job's new state: queued again (retry and attempts left), dead (retry, none left) or failed
        (no retry); None (nothing changed) if `worker_id` does not hold the job."""
        ...

    def requeue_expired(self) -> int:
        """Running jobs whose lease has expired go back to queued, or to dead if they used every attempt.
        Returns how many jobs changed."""
        ...

    def get(self, job_id: str) -> Job | None: ...

    def list(self, *, limit: int = 50, cursor: str | None = None, owner: str | None = None,
             state: str | None = None) -> JobPage:  # fmt: skip
        """Newest first, `limit` at a time (1..MAX_PAGE); `cursor` from the previous page. A cursor that this
        store did not hand out is a UsageError."""
        ...

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state (every state named, zero included)."""
        ...

    def purge_finished(self, before: float) -> list[Job]:
        """Delete finished jobs that finished before `before`; returns them (their uploads may go too)."""
        ...

    def close(self) -> None: ...


def new_job_id() -> str:
    return uuid.uuid4().hex


def check_state(state: str | None) -> None:
    if state is not None and state not in STATES:
        raise UsageError(f"unknown job state {state!r}: use one of {', '.join(STATES)}")


def check_limit(limit: int) -> int:
    if not 1 <= int(limit) <= MAX_PAGE:
        raise UsageError(f"page size must be between 1 and {MAX_PAGE}, got {limit}")
    return int(limit)


def check_submit(kind: str, max_attempts: int) -> None:
    if not kind:
        raise UsageError("a job needs a kind")
    if max_attempts < 1:
        raise UsageError(f"max_attempts must be at least 1, got {max_attempts}")


def parse_cursor(cursor: str | None) -> int | None:
    """Cursors are the decimal sequence number of the last job on the previous page (opaque to callers)."""
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit():
        raise UsageError(f"bad page cursor {cursor!r}: pass next_cursor from the previous page")
    return int(cursor)


# The SQL stores' column list, in Job's field order, so that a row unpacks straight into Job.
COLUMNS = ", ".join(f.name for f in fields(Job))


def page_query(mark: str, *, limit: int, cursor: str | None, owner: str | None,
               state: str | None) -> tuple[str, tuple]:  # fmt: skip
    """The SQL and arguments of one page of `JobStore.list` (`mark`: the driver's placeholder, ? or %s); it
    fetches one row more than the page, so that `page_of` knows whether another page follows."""
    limit = check_limit(limit)
    check_state(state)
    where, args = ["1 = 1"], []
    for condition, value in (("seq <", parse_cursor(cursor)), ("owner =", owner), ("state =", state)):
        if value is not None:
            where.append(f"{condition} {mark}")
            args.append(value)
    sql = f"SELECT seq, {COLUMNS} FROM jobs WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT {mark}"
    return sql, (*args, limit + 1)


def page_of(rows: list, limit: int) -> JobPage:
    """A page from `page_query`'s rows (seq first), with the cursor of the next page if there is one."""
    return JobPage([Job(*row[1:]) for row in rows[:limit]], str(rows[limit - 1][0]) if len(rows) > limit else None)


def __getattr__(name: str):
    # Implementations load lazily: `from dflab.storage.jobs import SQLiteJobStore` works without importing sqlite3
    # into every user of the interface.
    if name == "SQLiteJobStore":
        from dflab.storage.sqlite_jobs import SQLiteJobStore

        return SQLiteJobStore
    if name == "MemoryJobStore":
        from dflab.storage.memory_jobs import MemoryJobStore

        return MemoryJobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEAD", "DEDUP_STATES", "DEFAULT_MAX_ATTEMPTS", "FAILED", "FINISHED", "Job", "JobPage", "JobStore",
    "MemoryJobStore", "QUEUED", "RUNNING", "SQLiteJobStore", "STATES", "SUCCEEDED", "Submitted", "new_job_id",
]  # fmt: skip
