"""Settings of one `dflab serve` process (the CLI options, with their defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from dflab.errors import UsageError

SCAN_IN = ("process", "threads")


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2  # scan threads sharing one Scanner
    # Where scans run: "threads" of this process (the library default: stores may be in memory), or "process",
    # one `dflab worker` child holding the models (what `dflab serve` uses; the stores must be on disk or in
    # PostgreSQL so both processes see them). scan_nice lowers that child's CPU priority (0: as this process).
    scan_in: str = "threads"
    scan_nice: int = 0
    # How many processes the scan threads are spread over with scan_in="process", each holding its own models. A
    # scan's Python parts hold its process's GIL; on 2 cores one process of 2 threads scanned as fast as two
    # processes (bench/serve_load.py, docs/service.md), so the default is one. For machines with many cores.
    scan_processes: int = 1
    keep_days: float = 7.0  # uploads and finished jobs older than this are deleted
    max_upload_mb: int = 512
    rate_per_minute: int = 120  # requests per key (or per client address without a key) per minute
    lease_s: float = 60.0  # a job whose worker stops heartbeating for this long goes back to the queue
    max_attempts: int = 3  # a job that kills its worker this often is dead-lettered
    poll_s: float = 0.5  # how often an idle worker looks for a job
    sweep_s: float = 600.0  # how often expired leases are requeued and old uploads deleted (also at start)
    callback_attempts: int = 5
    callback_backoff_s: float = 1.0  # doubled after each failed delivery

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise UsageError(f"--port must be 1-65535, got {self.port}")
        if self.workers < 0:
            raise UsageError(f"--workers must be 0 or more, got {self.workers}")
        if self.scan_in not in SCAN_IN:
            raise UsageError(f"--scan-in must be one of {', '.join(SCAN_IN)}, got {self.scan_in!r}")
        if self.scan_processes < 1:
            raise UsageError(f"--scan-processes must be at least 1, got {self.scan_processes}")
        if not 0 <= self.scan_nice <= 19:
            raise UsageError(f"--scan-nice must be 0-19, got {self.scan_nice}")
        if self.keep_days <= 0:
            raise UsageError(f"--keep-days must be more than 0, got {self.keep_days}")
        if self.max_upload_mb < 1:
            raise UsageError(f"--max-upload-mb must be at least 1, got {self.max_upload_mb}")
        if self.rate_per_minute < 1:
            raise UsageError(f"--rate-limit must be at least 1 request per minute, got {self.rate_per_minute}")
        if self.lease_s <= 0 or self.max_attempts < 1:
            raise UsageError("the lease must be longer than 0 s and jobs need at least one attempt")

    @property
    def scan_layout(self) -> tuple[int, int]:
        """(processes, threads per process) of the scan process: `workers` scans at once (rounded up to fill every
        process evenly) over scan_processes processes, never more processes than scans."""
        if self.workers == 0:
            return 0, 0
        processes = min(self.scan_processes, self.workers)
        return processes, -(-self.workers // processes)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024
