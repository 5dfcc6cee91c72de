"""Contract tests every JobStore must pass (dflab/storage/jobs.py), run against each implementation.

A new backend joins by adding a factory to JOB_STORES: a function (tmp_path, clock) -> store. The clock is a
FakeClock, so lease expiry is tested without sleeping; a backend must read time only from the clock it is given.
"""

from __future__ import annotations

import json
import threading

import pytest

from dflab.errors import UsageError
from dflab.storage.jobs import (
    DEAD, FAILED, MAX_PAGE, QUEUED, RUNNING, STATES, SUCCEEDED, JobStore, MemoryJobStore, SQLiteJobStore,
)  # fmt: skip


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _sqlite_shared(tmp_path, clock):
    # on a database the lab's other stores share (one file, one transaction for all)
    from dflab.provenance.stores import open_sqlite_stores

    stores = open_sqlite_stores(tmp_path / "lab.sqlite", synchronous="NORMAL")
    store = SQLiteJobStore(database=stores.database, clock=clock)
    store.close = stores.close  # type: ignore[method-assign]
    return store


JOB_STORES = {
    "memory": lambda tmp_path, clock: MemoryJobStore(clock=clock),
    "sqlite": lambda tmp_path, clock: SQLiteJobStore(tmp_path / "jobs.sqlite", clock=clock, synchronous="NORMAL"),
    "sqlite-shared": _sqlite_shared,
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


POSTGRES = "postgres"  # needs the `postgres_url` fixture (a schema of its own), so built in the fixture below


@pytest.fixture(params=[*sorted(JOB_STORES), POSTGRES])
def store(request, tmp_path, clock) -> JobStore:
    if request.param == POSTGRES:
        from dflab.storage.postgres_jobs import PostgresJobStore

        s = PostgresJobStore(request.getfixturevalue("postgres_url"), clock=clock)
    else:
        s = JOB_STORES[request.param](tmp_path, clock)
    yield s
    s.close()


def _payload(name: str = "a.jpg") -> str:
    return json.dumps({"file": name})


def test_satisfies_protocol(store):
    assert isinstance(store, JobStore)


def test_submit_makes_a_queued_job(store, clock):
    made = store.submit("scan", _payload(), dedup_key="d1", owner="alice")
    assert made.created and made.reason == "new"
    job = made.job
    assert job.state == QUEUED and job.kind == "scan" and json.loads(job.payload) == {"file": "a.jpg"}
    assert job.attempts == 0 and job.max_attempts == 3 and job.owner == "alice" and job.dedup_key == "d1"
    assert job.created_at == clock.now and job.finished_at is None and job.result is None and not job.finished
    assert store.get(job.id) == job
    assert store.get("no-such-job") is None


def test_dedup_key_returns_the_live_job(store):
    first = store.submit("scan", _payload(), dedup_key="same").job
    again = store.submit("scan", _payload("other-name.jpg"), dedup_key="same")
    assert not again.created and again.reason == "dedup" and again.job.id == first.id
    other = store.submit("scan", _payload(), dedup_key="different")
    assert other.created and other.job.id != first.id


def test_dedup_key_returns_a_succeeded_job_but_not_a_failed_one(store):
    done = store.submit("scan", _payload(), dedup_key="k").job
    store.lease("w", 30)
    assert store.complete(done.id, "w", '{"verdict": "real"}')
    cached = store.submit("scan", _payload(), dedup_key="k")
    assert cached.reason == "dedup" and cached.job.state == SUCCEEDED and cached.job.result == '{"verdict": "real"}'

    bad = store.submit("scan", _payload(), dedup_key="b").job
    store.lease("w", 30)
    assert store.fail(bad.id, "w", "cannot decode", retry=False) == FAILED
    fresh = store.submit("scan", _payload(), dedup_key="b")
    assert fresh.created and fresh.job.id != bad.id and fresh.job.state == QUEUED


def test_idempotency_key_returns_the_first_job_in_any_state(store):
    first = store.submit("scan", _payload(), idempotency_key="req-1", owner="alice").job
    store.lease("w", 30)
    store.fail(first.id, "w", "broken", retry=False)
    again = store.submit("scan", _payload(), idempotency_key="req-1", owner="alice")
    assert not again.created and again.reason == "idempotent" and again.job.id == first.id
    assert again.job.state == FAILED
    # the key is the owner's: another owner's request with the same key is another job
    other = store.submit("scan", _payload(), idempotency_key="req-1", owner="bob")
    assert other.created and other.job.id != first.id


def test_idempotency_key_is_checked_before_dedup(store):
    a = store.submit("scan", _payload(), dedup_key="x", idempotency_key="i1").job
    b = store.submit("scan", _payload(), dedup_key="x", idempotency_key="i2")
    assert b.reason == "dedup" and b.job.id == a.id
    assert store.submit("scan", _payload(), dedup_key="y", idempotency_key="i1").reason == "idempotent"


def test_lease_is_fifo_and_counts_attempts(store, clock):
    ids = [store.submit("scan", _payload(f"{i}.jpg")).job.id for i in range(3)]
    leased = store.lease("w1", 60)
    assert leased.id == ids[0] and leased.state == RUNNING and leased.attempts == 1
    assert leased.worker_id == "w1" and leased.lease_expires_at == clock.now + 60
    assert store.lease("w2", 60).id == ids[1]
    assert store.lease("w1", 60).id == ids[2]
    assert store.lease("w1", 60) is None


def test_lease_filters_by_kind(store):
    store.submit("scan", _payload())
    reg = store.submit("register", _payload()).job
    assert store.lease("w", 10, kinds=("register",)).id == reg.id
    assert store.lease("w", 10, kinds=("register",)) is None
    assert store.lease("w", 10, kinds=("scan",)).kind == "scan"


def test_complete_only_by_the_lease_holder_and_only_once(store, clock):
    job = store.submit("scan", _payload()).job
    store.lease("w1", 60)
    assert not store.complete(job.id, "w2", "{}")
    clock.advance(5)
    assert store.complete(job.id, "w1", '{"ok": true}')
    done = store.get(job.id)
    assert done.state == SUCCEEDED and done.result == '{"ok": true}' and done.finished_at == clock.now
    assert done.fraction == 1.0 and done.finished
    assert not store.complete(job.id, "w1", '{"ok": false}')
    assert store.get(job.id).result == '{"ok": true}'
    assert not store.complete("no-such-job", "w1", "{}")


def test_heartbeat_extends_the_lease_and_records_progress(store, clock):
    job = store.submit("scan", _payload()).job
    store.lease("w1", 10)
    clock.advance(8)
    assert store.heartbeat(job.id, "w1", 10, stage="faces", fraction=0.25)
    now = store.get(job.id)
    assert now.lease_expires_at == clock.now + 10 and now.stage == "faces" and now.fraction == 0.25
    assert store.heartbeat(job.id, "w1", 10)  # progress left as it was
    assert store.get(job.id).stage == "faces"
    assert not store.heartbeat(job.id, "w2", 10)
    clock.advance(9)
    assert store.requeue_expired() == 0  # the heartbeat kept it alive


def test_expired_lease_is_requeued_and_the_old_worker_cannot_finish(store, clock):
    job = store.submit("scan", _payload()).job
    store.lease("w1", 10, kinds=None)
    store.heartbeat(job.id, "w1", 10, stage="faces", fraction=0.5)
    clock.advance(11)
    assert store.requeue_expired() == 1
    again = store.get(job.id)
    assert again.state == QUEUED and "w1" in again.error and again.fraction == 0.0 and again.stage is None
    assert not store.heartbeat(job.id, "w1", 10)
    assert not store.complete(job.id, "w1", "{}")
    second = store.lease("w2", 10)
    assert second.id == job.id and second.attempts == 2 and second.error is None
    assert not store.complete(job.id, "w1", "{}")
    assert store.complete(job.id, "w2", '{"n": 2}')
    assert store.get(job.id).result == '{"n": 2}'


def test_a_lease_past_its_time_may_still_finish_until_requeued(store, clock):
    job = store.submit("scan", _payload()).job
    store.lease("w1", 10)
    clock.advance(30)
    assert store.complete(job.id, "w1", "{}")  # nobody else took it
    assert store.requeue_expired() == 0


def test_retry_until_the_dead_letter(store):
    job = store.submit("scan", _payload(), max_attempts=2).job
    store.lease("w", 10)
    assert store.fail(job.id, "w", "model crashed", retry=True) == QUEUED
    assert store.get(job.id).state == QUEUED and store.get(job.id).error == "model crashed"
    store.lease("w", 10)
    assert store.fail(job.id, "w", "model crashed again", retry=True) == DEAD
    dead = store.get(job.id)
    assert dead.state == DEAD and dead.attempts == 2 and dead.finished and dead.error == "model crashed again"
    assert store.lease("w", 10) is None
    assert store.fail(job.id, "w", "late", retry=True) is None


def test_expiry_uses_up_attempts_too(store, clock):
    job = store.submit("scan", _payload(), max_attempts=1).job
    store.lease("w", 10)
    clock.advance(11)
    assert store.requeue_expired() == 1
    assert store.get(job.id).state == DEAD


def test_fail_without_retry_is_final(store):
    job = store.submit("scan", _payload()).job
    store.lease("w", 10)
    assert store.fail(job.id, "other", "x", retry=False) is None
    assert store.fail(job.id, "w", "not a picture", retry=False) == FAILED
    failed = store.get(job.id)
    assert failed.state == FAILED and failed.attempts == 1 and failed.finished_at is not None


def test_list_is_newest_first_with_a_cursor(store):
    ids = [store.submit("scan", _payload(), owner="alice" if i % 2 else "bob").job.id for i in range(7)]
    seen, cursor = [], None
    while True:
        page = store.list(limit=3, cursor=cursor)
        seen += [j.id for j in page.jobs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert store.list(limit=7).next_cursor is None
    alice = store.list(owner="alice")
    assert [j.id for j in alice.jobs] == [ids[i] for i in (5, 3, 1)]
    store.lease("w", 10)
    assert [j.id for j in store.list(state=RUNNING).jobs] == [ids[0]]


def test_list_rejects_bad_arguments(store):
    with pytest.raises(UsageError):
        store.list(limit=0)
    with pytest.raises(UsageError):
        store.list(limit=MAX_PAGE + 1)
    with pytest.raises(UsageError):
        store.list(cursor="'; drop table jobs")
    with pytest.raises(UsageError):
        store.list(state="exploded")


def test_submit_rejects_bad_arguments(store):
    with pytest.raises(UsageError):
        store.submit("", _payload())
    with pytest.raises(UsageError):
        store.submit("scan", _payload(), max_attempts=0)


def test_counts_name_every_state(store):
    assert store.counts() == {state: 0 for state in STATES}
    a = store.submit("scan", _payload()).job
    store.submit("scan", _payload())
    store.lease("w", 10)
    store.complete(a.id, "w", "{}")
    assert store.counts() == {**{state: 0 for state in STATES}, SUCCEEDED: 1, QUEUED: 1}


def test_purge_finished_removes_only_old_finished_jobs(store, clock):
    old = store.submit("scan", _payload()).job
    store.lease("w", 10)
    store.complete(old.id, "w", "{}")
    clock.advance(100)
    waiting = store.submit("scan", _payload()).job
    clock.advance(100)
    purged = store.purge_finished(before=clock.now - 50)
    assert [j.id for j in purged] == [old.id]
    assert store.get(old.id) is None and store.get(waiting.id) is not None


def test_concurrent_workers_never_share_a_job(store):
    n_jobs, n_workers = 40, 6
    for i in range(n_jobs):
        store.submit("scan", _payload(f"{i}.jpg"))
    taken: list[str] = []
    guard = threading.Lock()

    def work(worker: str) -> None:
        while (job := store.lease(worker, 60)) is not None:
            assert store.complete(job.id, worker, json.dumps({"by": worker}))
            with guard:
                taken.append(job.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == n_jobs and len(set(taken)) == n_jobs
    assert store.counts()[SUCCEEDED] == n_jobs


def test_concurrent_submits_of_the_same_bytes_make_one_job(store):
    made: list = []
    guard = threading.Lock()

    def submit() -> None:
        result = store.submit("scan", _payload(), dedup_key="same-bytes")
        with guard:
            made.append(result)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(m.created for m in made) == 1 and len({m.job.id for m in made}) == 1
