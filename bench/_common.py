"""Shared bits of the benchmark scripts: where results go, how tables print, where real media is."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def shared_data() -> Path | None:
    path = Path(os.environ.get("DFLAB_SHARED_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


def require_shared_data() -> Path:
    """The shared data folder, or one line on stderr and exit code 2 (a benchmark needs its real media)."""
    path = shared_data()
    if path is None:
        print("shared data not found: set DFLAB_SHARED_DATA", file=sys.stderr)
        raise SystemExit(2)
    return path


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
            "when": time.strftime("%Y-%m-%d %H:%M:%S")}


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(_fmt(row.get(c)).ljust(widths[c]) for c in columns))


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_results(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps({"machine": machine(), **payload}, indent=2))
    print(f"\nwrote {out.relative_to(REPO)}")
    return out


def postgres_schema(url: str | None):
    """A context manager giving a PostgreSQL URL whose tables land in a fresh schema, dropped afterwards.

    `url`: a postgresql:// URL, or "auto" to start a throwaway server (scripts/postgres.sh in a temporary
    directory, on a free port) for the length of the block."""
    import contextlib
    import shutil
    import socket
    import subprocess
    import tempfile
    import uuid
    from urllib.parse import quote

    @contextlib.contextmanager
    def server():
        if url != "auto":
            yield url
            return
        base = tempfile.mkdtemp(prefix="dflab-bench-pg-")
        os.chmod(base, 0o755)  # the server runs as `postgres` when the benchmark runs as root
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "DFLAB_PG_DIR": os.path.join(base, "data"), "DFLAB_PG_PORT": str(port)}
        script = str(REPO / "scripts" / "postgres.sh")
        try:
            out = subprocess.run(["bash", script, "start"], env=env, capture_output=True, text=True, check=True)
            yield out.stdout.strip().splitlines()[-1].split("=", 1)[1]
        finally:
            subprocess.run(["bash", script, "stop"], env=env, capture_output=True)
            shutil.rmtree(base, ignore_errors=True)

    @contextlib.contextmanager
    def schema():
        import psycopg

        with server() as base_url:
            name = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(base_url, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {name}")
            try:
                yield f"{base_url}{'&' if '?' in base_url else '?'}options={quote(f'-csearch_path={name}')}"
            finally:
                with psycopg.connect(base_url, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {name} CASCADE")

    return schema()


def postgres_mib(url: str) -> float:
    """On-disk size of the tables (with indexes) in the URL's schema."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = current_schema() AND c.relkind = 'r'").fetchone()  # fmt: skip
    return float(row[0]) / 2**20
