"""The scan process of `dflab serve`: one `dflab worker` child that loads the models once and runs the scans, so
the API process only answers requests.

Why a process and not threads: bench/serve_poll_causes.py measured the status poll while scans ran in threads of
the API process: pure-Python busy threads in the server (the GIL, no SQLite) slowed polls more than the same CPU
demand in other processes, and scans in a separate worker process brought the poll p50/p99 close to the idle
server's. The event loop and the request threads no longer wait for the GIL of a scan.

The child shares the job store (SQLite under the home, or PostgreSQL), so leases, heartbeats, retries and
exactly-once completion are the store's, as for any `dflab worker`. This supervisor:
  * starts it with the lab's home and database in its environment, its CPU priority lowered by `scan_nice`
    (default 0: on a machine shared with other work a lower priority slowed the scans more than it sped polls);
  * marks the service ready when the child says its models are loaded (its READY_LINE on stderr) and forwards
    the child's other output to this process's stderr;
  * starts it again if it dies (its jobs' leases run out and they are queued again), waiting longer after each
    quick failure;
  * starts it in a session of its own: Ctrl-C in the server's terminal reaches only the server, which then stops
    the child; and on Linux with autogroup scheduling the scans get a CPU share of their own instead of taking
    the API's;
  * stops it with SIGTERM when the server stops. If the server itself is killed (even SIGKILL) the child sees
    its parent gone and exits at once (`dflab worker --parent-pid`), leaving its jobs to the lease, exactly as
    scan threads die with their process.

With `processes` > 1 the child (`dflab worker --processes P`) starts the other P - 1 scan processes itself, with
this same class (new_session=False): they stay in its session (one scheduling group for all scans), it says it is
ready once all of them are, and they leave when it does. Scan threads of one process take turns on its GIL in a
scan's Python parts (the watermark search above all); separate processes do not. On 2 cores that made no
measurable difference (docs/service.md), so one process is the default.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("dflab.serve")

READY_LINE = "dflab worker: ready"  # what `dflab worker` prints to stderr once its models are loaded
STOP_WAIT_S = 10.0
MAX_RESTART_DELAY_S = 30.0


class ScanProcess:
    """Runs `dflab worker` as a child, restarts it when it dies, and reports readiness through callbacks."""

    def __init__(self, *, threads: int, lease_s: float, nice: int, lab_config, on_ready, on_down, processes: int = 1,
                 new_session: bool = True) -> None:  # fmt: skip
        self.threads, self.lease_s, self.nice = threads, lease_s, nice
        # `dflab worker --processes`: the child starts processes - 1 more scan processes beside itself (in its
        # session, so on Linux they share one autogroup's CPU share); new_session=False is how it starts them.
        self.processes, self.new_session = processes, new_session
        self.lab_config = lab_config  # dflab.config.LabConfig: the child opens the same stores
        self.on_ready, self.on_down = on_ready, on_down  # on_ready(); on_down(reason)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._supervisor: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        with self._lock:
            child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "dflab", "worker", "--concurrency", str(self.threads), "--lease-s",
                   str(self.lease_s), "--nice", str(self.nice), "--parent-pid", str(os.getpid())]  # fmt: skip
        return command + (["--processes", str(self.processes)] if self.processes > 1 else [])

    def environment(self) -> dict[str, str]:
        """This environment, with the lab's home and database named explicitly, and this process's dflab first on
        the import path (the child must run the same code on the same stores)."""
        import dflab

        source = str(Path(dflab.__file__).resolve().parents[1])
        env = self.lab_config.environment(dict(os.environ))
        env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
        return env

    def start(self) -> None:
        self._supervisor = threading.Thread(target=self._supervise, name="dflab-scan-process", daemon=True)
        self._supervisor.start()

    def stop(self, timeout_s: float = STOP_WAIT_S) -> None:
        """SIGTERM the child (running scans keep their leases until they expire), SIGKILL it if it lingers."""
        self._stop.set()
        with self._lock:
            child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self._supervisor is not None:
            self._supervisor.join(timeout_s)

    # --- the supervisor thread -----------------------------------------------------------------------------

    def _supervise(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            started = time.monotonic()
            code = self._run_once()
            if self._stop.is_set():
                return
            reason = f"the scan process exited with code {code}; starting it again"
            log.warning(reason)
            self.on_down(reason)
            # A child that dies at once (a broken install, a bad model) is retried ever more slowly.
            delay = 1.0 if time.monotonic() - started > 60 else min(MAX_RESTART_DELAY_S, delay * 2)
            self._stop.wait(delay)

    def _run_once(self) -> int:
        try:
            child = subprocess.Popen(self.command(), env=self.environment(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=self.new_session)  # fmt: skip
        except OSError as exc:
            log.error("cannot start the scan process: %s", exc)
            return -1
        with self._lock:
            self._child = child
        if self._stop.is_set():  # stop() came while starting: it may not have seen this child
            child.terminate()
        for line in child.stderr:
            if line.startswith(READY_LINE):
                self.on_ready()
            else:
                sys.stderr.write(line)
        return child.wait()


__all__ = ["READY_LINE", "ScanProcess"]
