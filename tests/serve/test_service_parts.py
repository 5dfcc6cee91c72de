"""The service's small parts on their own: upload names and retention, rate limits, cookies, scan options."""

from __future__ import annotations

import json
import os
import time

import pytest

from dflab.errors import UsageError
from dflab.serve.auth import RateLimited, RateLimiter, Sessions
from dflab.serve.callbacks import sign, verify_signature
from dflab.serve.jobs import WorkerPool
from dflab.serve.config import ServeConfig
from dflab.serve.scan_options import parse_scan_options, scan_overrides
from dflab.serve.uploads import ReceivedFile, UploadStore, safe_filename
from dflab.storage.api_keys import MemoryApiKeyStore
from dflab.storage.memory_jobs import MemoryJobStore


@pytest.mark.parametrize(("sent", "kept"), [
    ("photo.jpg", "photo.jpg"), ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\clip.mp4", "clip.mp4"),
    ("", "upload"), ("..", "upload"), ("a\x00b\nc.png", "a_b_c.png"), ("x" * 300 + ".webm", "x" * 115 + ".webm"),
    ("bbE-3,1.jpg", "bbE-3,1.jpg"), ("café (1).png", "café (1).png"), ('a<b>:"c".jpg', "a_b___c_.jpg"),
])  # fmt: skip
def test_uploaded_names_lose_directories_and_odd_characters(sent, kept):
    assert safe_filename(sent) == kept


def _received(store: UploadStore, data: bytes, name: str) -> ReceivedFile:
    import hashlib

    part = store.tmp / f"part-{name}"
    part.write_bytes(data)
    return ReceivedFile("file", name, part, hashlib.sha256(data).hexdigest(), len(data))


def test_same_bytes_are_stored_once_under_each_name(tmp_path):
    store = UploadStore(tmp_path / "uploads")
    first = store.keep(_received(store, b"same bytes", "a.jpg"))
    second = store.keep(_received(store, b"same bytes", "b.jpg"))
    assert first.parent == second.parent and first.name == "a.jpg" and second.name == "b.jpg"
    assert os.stat(first).st_ino == os.stat(second).st_ino  # one copy of the bytes
    assert list(store.tmp.iterdir()) == []
    assert store.display_name(f"{second} is truncated") == "b.jpg is truncated"


def test_retention_deletes_old_uploads_but_keeps_those_jobs_need(tmp_path):
    store = UploadStore(tmp_path / "uploads")
    old = store.keep(_received(store, b"old", "old.jpg"))
    needed = store.keep(_received(store, b"needed", "needed.jpg"))
    fresh = store.keep(_received(store, b"fresh", "fresh.jpg"))
    past = time.time() - 10 * 86400
    for path in (old, needed):
        os.utime(path.parent, (past, past))
    assert store.purge(time.time() - 7 * 86400, keep={needed.parent.name}) == 1
    assert not old.exists() and needed.exists() and fresh.exists()


def test_worker_pool_purge_removes_finished_jobs_reports_and_uploads(tmp_path):
    jobs = MemoryJobStore(clock=lambda: time.time() - 30 * 86400)  # everything happened a month ago
    store = UploadStore(tmp_path / "uploads")
    path = store.keep(_received(store, b"pixels", "p.jpg"))
    os.utime(path.parent, (time.time() - 30 * 86400,) * 2)
    job = jobs.submit("scan", json.dumps({"path": str(path), "sha256": path.parent.name})).job
    jobs.lease("w", 60)
    jobs.complete(job.id, "w", "{}")
    (tmp_path / "reports" / job.id / "1").mkdir(parents=True)
    pool = WorkerPool(jobs, scanner=None, uploads=store, reports_dir=tmp_path / "reports",
                      config=ServeConfig(workers=0, keep_days=7))  # fmt: skip
    pool.purge()
    assert jobs.get(job.id) is None and not (tmp_path / "reports" / job.id).exists() and not path.exists()


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(per_minute=2, clock=lambda: now[0])
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(RateLimited) as refused:
        limiter.take("a")
    assert refused.value.retry_after_s == 30
    limiter.take("b")  # another caller has its own allowance
    now[0] = 30.0
    limiter.take("a")


def test_cookies_are_signed_expire_and_follow_the_key():
    keys = MemoryApiKeyStore()
    keys.create("web-ui")
    key = keys.list()[0]
    sessions = Sessions(b"k" * 32, keys)
    cookie = sessions.cookie_for(key, now=1000.0)
    assert sessions.check(cookie, now=1001.0) == key
    assert sessions.check(cookie, now=1000.0 + 31 * 86400) is None
    forged = cookie.replace("web-ui", "admin")
    assert sessions.check(forged, now=1001.0) is None
    assert Sessions(b"x" * 32, keys).check(cookie, now=1001.0) is None
    assert sessions.check("", now=1.0) is None and sessions.check("a.b", now=1.0) is None
    keys.revoke("web-ui")
    assert sessions.check(cookie, now=1001.0) is None


def test_callback_signatures():
    body = b'{"id":"x","state":"succeeded"}'
    header = sign("secret", body, 1_700_000_000)
    assert verify_signature("secret", body, header, now=1_700_000_010)
    assert not verify_signature("secret", body + b" ", header, now=1_700_000_010)
    assert not verify_signature("secret", body, header, now=1_700_001_000)  # too old: a replay
    assert not verify_signature("secret", body, "garbage")


def test_scan_options_are_normalised_and_checked():
    assert parse_scan_options({}) == {}
    assert parse_scan_options({"operating_point": "default"}) == {}
    assert parse_scan_options({"operating_point": "Strict"}) == {"operating_point": [0.005, 0.01]}
    assert parse_scan_options({"detectors": "spectrum, blink,spectrum"}) == {"detectors": ["blink", "spectrum"]}
    assert parse_scan_options({"max_faces": "2", "allow_partial": "true"}) == {"max_faces": 2, "allow_partial": True}
    assert parse_scan_options({"face_fps": "10"}) == {"face_fps": 10.0}
    assert scan_overrides({"face_fps": 10.0}, None)["policy"].face_rate_fps == 10.0
    for bad in ({"detectors": "nope"}, {"max_faces": "0"}, {"fps": "fast"}, {"operating_point": "0.5,0.1"},
                {"face_fps": "0"}):
        with pytest.raises(UsageError):
            parse_scan_options(bad)


class _FakeScanner:
    """Stands in for dflab.Scanner where the test is about the pool, not the scan."""

    detectors = ("a", "b")

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def scan(self, path, progress=None, **overrides):
        self.calls += 1
        progress("decode+faces")
        raise self.error


def _pool_with(tmp_path, scanner, jobs):
    finished = []
    pool = WorkerPool(jobs, scanner, UploadStore(tmp_path / "uploads"), tmp_path / "reports",
                      ServeConfig(workers=0, max_attempts=2), on_finished=finished.append)  # fmt: skip
    return pool, finished


def test_a_crash_is_retried_then_dead_lettered(tmp_path):
    jobs = MemoryJobStore()
    scanner = _FakeScanner(RuntimeError("model exploded"))
    pool, finished = _pool_with(tmp_path, scanner, jobs)
    job = jobs.submit("scan", json.dumps({"path": "/x.jpg", "filename": "x.jpg"}), max_attempts=2).job
    pool.run(jobs.lease("w", 60), "w")
    assert jobs.get(job.id).state == "queued" and finished == []
    pool.run(jobs.lease("w", 60), "w")
    dead = jobs.get(job.id)
    assert dead.state == "dead" and dead.error == "internal error: RuntimeError" and scanner.calls == 2
    assert [j.id for j in finished] == [job.id]


def test_a_file_that_cannot_be_scanned_fails_at_once_with_its_name(tmp_path):
    from dflab.errors import Unsupported

    jobs = MemoryJobStore()
    store = UploadStore(tmp_path / "uploads")
    kept = store.keep(_received(store, b"bytes", "clip.mp4"))
    scanner = _FakeScanner(Unsupported(f"{kept} is a .mp4 file with only an audio stream"))
    pool, finished = _pool_with(tmp_path, scanner, jobs)
    job = jobs.submit("scan", json.dumps({"path": str(kept), "filename": "clip.mp4"})).job
    pool.run(jobs.lease("w", 60), "w")
    failed = jobs.get(job.id)
    assert failed.state == "failed" and failed.error == "clip.mp4 is a .mp4 file with only an audio stream"
    assert scanner.calls == 1 and [j.state for j in finished] == ["failed"]
