"""Shared fixtures. Real media is read in place from ../shared/data through `shared_data` only."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    return Path(os.environ.get("DFLAB_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public media set (../shared/data, or $DFLAB_SHARED_DATA). Required in CI, skipped elsewhere."""
    path = _shared_data_dir()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing at {path}")
        pytest.skip(f"shared data not found at {path} (set DFLAB_SHARED_DATA)")
    return path


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory):
    """DFLAB_HOME for the whole run, set before any other fixture: a session- or module-scoped fixture that
    makes keys, a ledger or a registry never touches the user's ~/.dflab either. (Autouse fixtures of the
    widest scope are set up first, and nothing else in the suite is session-scoped and autouse.) The model cache
    (derived files such as the face-crop network's export) is one for the run, outside the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DFLAB_HOME", str(tmp_path_factory.mktemp("dflab_session_home")))
        patch.setenv("DFLAB_CACHE_DIR", str(tmp_path_factory.mktemp("dflab_model_cache")))
        yield


@pytest.fixture(autouse=True)
def _isolated_home(_session_home, tmp_path_factory, monkeypatch):
    """Each test also gets a fresh, empty home of its own, so no test sees another's keys or ledger."""
    monkeypatch.setenv("DFLAB_HOME", str(tmp_path_factory.mktemp("dflab_home")))


SHARED_DATA_SKIP = "shared data"  # every skip for missing real media says this (see shared_data above)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how many tests did not run because real media was missing, and where that media comes from."""
    skipped = terminalreporter.stats.get("skipped", [])
    missing = sum(SHARED_DATA_SKIP in _skip_reason(r) for r in skipped)
    path = _shared_data_dir()
    where = f"{path}" if path.is_dir() else f"{path}, not found"
    terminalreporter.write_line(
        f"{missing} of {len(skipped)} skipped tests were skipped for missing shared data ({where}): the public "
        "media set that ../shared/data/README.md lists; set DFLAB_SHARED_DATA to use another folder.",
        yellow=bool(missing),
    )


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (file, line, "Skipped: reason")
        return str(longrepr[2])
    return str(longrepr)


# ---------------------------------------------------------------- PostgreSQL
# A throwaway PostgreSQL server for the test run (scripts/postgres.sh in a temporary directory, on a free port),
# or the one DFLAB_TEST_DATABASE_URL names. Each test gets a schema of its own (`postgres_url`), dropped after.

SCRIPT = str(REPO / "scripts" / "postgres.sh")
TEST_URL_ENV = "DFLAB_TEST_DATABASE_URL"


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required in CI: .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture
def ffmpeg():
    """ffmpeg(*args): runs `ffmpeg -v error -y ARGS` (to make edited copies of real media); without ffmpeg
    installed the test is skipped (failed in CI)."""
    if shutil.which("ffmpeg") is None:
        _missing("ffmpeg not installed")

    def run(*args) -> None:
        subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)

    return run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A database URL for the whole run; the server is stopped and deleted at the end."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("PostgreSQL tests need psycopg (requirements.txt)")
    if os.environ.get(TEST_URL_ENV):
        yield os.environ[TEST_URL_ENV]
        return
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") and not shutil.which("initdb"):
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    base = tempfile.mkdtemp(prefix="dflab-pg-")
    os.chmod(base, 0o755)  # the server runs as `postgres` when the tests run as root
    env = {**os.environ, "DFLAB_PG_DIR": os.path.join(base, "data"), "DFLAB_PG_PORT": str(_free_port())}
    try:
        started = subprocess.run(["bash", SCRIPT, "start"], env=env, capture_output=True, text=True, timeout=120)
        if started.returncode != 0:
            pytest.fail(f"could not start PostgreSQL for the tests: {started.stderr.strip()[-1500:]}")
        yield started.stdout.strip().splitlines()[-1].split("=", 1)[1]
    finally:
        subprocess.run(["bash", SCRIPT, "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def with_schema(url: str, schema: str) -> str:
    """`url` with its search_path set to `schema` (libpq's options parameter)."""
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def postgres_url(postgres_server):
    """A database URL whose tables land in a fresh schema of this test's own."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield with_schema(postgres_server, schema)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
