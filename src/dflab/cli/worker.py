"""`dflab worker [--concurrency N]`: take scan jobs from the lab's job queue until stopped (SIGTERM or Ctrl-C).

The queue is the one `dflab serve` fills: with DFLAB_DATABASE_URL=postgresql://... every serve instance and
every worker, on any machine, share it (`FOR UPDATE SKIP LOCKED` hands each job to one worker; a worker that dies
loses its lease and the job is queued again). Uploaded files and reports live under $DFLAB_HOME/serve, so the
machines must share that folder too. docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "worker",
        help="run scan jobs from the job queue (the one dflab serve fills), until stopped",
        description="Lease scan jobs from the lab's job queue and run them with one set of models shared by N "
        "threads, with heartbeats; stop with SIGTERM or Ctrl-C (running jobs go back to the queue when their "
        "lease runs out). Use DFLAB_DATABASE_URL=postgresql://... to share one queue between machines, and "
        "`dflab serve --workers 0` for a web front end that only queues.",
    )
    p.add_argument("--concurrency", type=int, default=1, metavar="N", help="scan threads per process (default 1)")
    p.add_argument("--processes", type=int, default=1, metavar="P",
                   help="scan processes, each with its own models and N threads (default 1), started by this one "
                   "and leaving with it: threads of one process take turns on its GIL in a scan's Python parts, "
                   "which separate processes do not, at P times the model memory. On 2 cores 2 processes of 1 "
                   "thread scanned no faster than 1 of 2 (docs/service.md)")  # fmt: skip
    p.add_argument("--lease-s", type=float, default=60.0, metavar="SEC",
                   help="a job whose worker stops answering for SEC seconds is queued again (default 60)")  # fmt: skip
    p.add_argument("--nice", type=int, default=0, metavar="N",
                   help="lower this process's CPU priority by N (0-19; default 0), so that a web front end on the "
                   "same machine answers before scans get the CPU")  # fmt: skip
    # `dflab serve` runs its scans in a `dflab worker` child: the child exits at once when its server is gone
    # (even killed with SIGKILL), as scan threads would have died with it.
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dflab.config import LabConfig
    from dflab.detect.scanner import Scanner
    from dflab.errors import UsageError
    from dflab.serve.callbacks import CallbackSender
    from dflab.serve.config import ServeConfig
    from dflab.serve.jobs import WorkerPool
    from dflab.serve.stores import open_service_stores
    from dflab.serve.uploads import UploadStore
    from dflab.serve.worker_process import READY_LINE

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.processes < 1:
        raise UsageError("--processes must be at least 1")
    if not 0 <= args.nice <= 19:
        raise UsageError(f"--nice must be 0-19, got {args.nice}")
    if args.parent_pid is not None:
        _exit_with_parent(args.parent_pid)
    if args.nice:
        _lower_priority(args.nice)
    if args.concurrency > 1:
        # Scan threads take turns on the GIL between native sections (torch, OpenCV); a 1 ms switch interval
        # (default 5 ms) hands it over sooner. In `dflab serve --scan-in threads` this took the serve_load p99 time
        # to result from 32-34 s to 28-30 s (bench/serve_load.py, quiet machine).
        sys.setswitchinterval(0.001)
    config = ServeConfig(workers=args.concurrency, lease_s=args.lease_s)
    lab_config = LabConfig.from_env()
    stores = open_service_stores(lab_config)
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    siblings = _Siblings(args, lab_config, stopping)
    try:
        siblings.start()  # they load their models while this process loads its own
        callbacks = CallbackSender(config.callback_attempts, config.callback_backoff_s)
        scanner = Scanner().warm()  # every model loaded before the first lease: no job waits for a model load
        pool = WorkerPool(stores.jobs, scanner, UploadStore(stores.uploads_dir), stores.reports_dir, config,
                          on_finished=_callback_for(callbacks))  # fmt: skip
        pool.start()
        if siblings.wait_ready():
            print(f"{READY_LINE}: {args.processes} process(es) of {config.workers} scan thread(s) on the job queue; "
                  "SIGTERM or Ctrl-C stops", file=sys.stderr, flush=True)  # fmt: skip
        stopping.wait()
        siblings.stop_soon()  # they wind down while this process does
        pool.stop()
    finally:
        siblings.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stores.close()
    return 0


class _Siblings:
    """The other processes of `--processes P`: P - 1 `dflab worker` children with the same settings, started
    again if they die, gone when this process goes (even killed: they watch it, as it watches its own parent).
    They stay in this process's session, so `dflab serve`'s scans keep one scheduling group whatever P is."""

    def __init__(self, args: argparse.Namespace, lab_config, stopping: threading.Event) -> None:
        from dflab.serve.worker_process import ScanProcess

        self.stopping = stopping
        self.ready = threading.Semaphore(0)
        # nice 0: they inherit this process's priority (os.nice is relative; a second --nice would add to it)
        self.children = [ScanProcess(threads=args.concurrency, lease_s=args.lease_s, nice=0, lab_config=lab_config,
                                     on_ready=self.ready.release, on_down=lambda reason: None, new_session=False)
                         for _ in range(args.processes - 1)]  # fmt: skip
        self._stopping: list[threading.Thread] = []

    def start(self) -> None:
        for child in self.children:
            child.start()

    def wait_ready(self) -> bool:
        """Until every sibling has loaded its models (True), or this process is told to stop (False)."""
        for _ in self.children:
            while not self.ready.acquire(timeout=0.2):
                if self.stopping.is_set():
                    return False
        return True

    def stop_soon(self) -> None:
        """Tell every sibling to stop, without waiting (stop() waits)."""
        if not self._stopping:
            self._stopping = [threading.Thread(target=child.stop, daemon=True) for child in self.children]
            for thread in self._stopping:
                thread.start()

    def stop(self) -> None:
        self.stop_soon()
        for thread in self._stopping:
            thread.join()


def _lower_priority(nice: int) -> None:
    """os.nice, and on Linux with autogroup scheduling also this session's group: there CPU time is first shared
    between sessions, and a process's nice value only counts inside its own (`dflab serve` starts its scan process
    in a session of its own)."""
    os.nice(nice)
    try:
        Path("/proc/self/autogroup").write_text(str(nice))
    except OSError:  # not Linux, or no autogroup: the process's nice value is all there is
        pass


def _exit_with_parent(parent_pid: int) -> None:
    """Leave the moment the parent process is gone. os._exit, not a clean stop: a scan must not complete after
    its server died, exactly as if it had run in the server (its lease runs out and it is scanned again).

    On Linux the kernel kills this process with its parent (PR_SET_PDEATHSIG): a watching thread can be kept
    from running by a scan's threads long enough for the scan to complete after the parent died. The parent
    starts this process from a thread that lives as long as this process does (serve/worker_process.py), so the
    signal comes only when the parent itself is gone. Elsewhere the thread below is all there is."""
    _ask_the_kernel_to_kill_this_process_with_its_parent()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(3)

    if os.getppid() != parent_pid:  # also after the request above: the parent may have died before it
        os._exit(3)
    threading.Thread(target=watch, name="dflab-parent-watch", daemon=True).start()


def _ask_the_kernel_to_kill_this_process_with_its_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no prctl in this libc: the watching thread still works
        pass


def _callback_for(callbacks):
    """Signed completion callbacks, as `dflab serve` sends them for the jobs its own workers finish."""
    import json

    def on_finished(job) -> None:
        payload = json.loads(job.payload)
        if payload.get("callback_url"):
            state = "failed" if job.state == "dead" else job.state
            callbacks.send(payload["callback_url"], payload.get("callback_secret", ""), {"id": job.id, "state": state})

    return on_finished
