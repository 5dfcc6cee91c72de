"""`dflab worker [--concurrency N]`: take scan jobs from the lab's job queue until stopped (SIGTERM or Ctrl-C).

The queue is the one `dflab serve` fills: with DFLAB_DATABASE_URL=postgresql://... every serve instance and
every worker, on any machine, share it (`FOR UPDATE SKIP LOCKED` hands each job to one worker; a worker that dies
loses its lease and the job is queued again). Uploaded files and reports live under $DFLAB_HOME/serve, so the
machines must share that folder too. docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "worker",
        help="run scan jobs from the job queue (the one dflab serve fills), until stopped",
        description="Lease scan jobs from the lab's job queue and run them with one set of models shared by N "
        "threads, with heartbeats; stop with SIGTERM or Ctrl-C (running jobs go back to the queue when their "
        "lease runs out). Use DFLAB_DATABASE_URL=postgresql://... to share one queue between machines, and "
        "`dflab serve --workers 0` for a web front end that only queues.",
    )
    p.add_argument("--concurrency", type=int, default=1, metavar="N", help="scan threads (default 1)")
    p.add_argument("--lease-s", type=float, default=60.0, metavar="SEC",
                   help="a job whose worker stops answering for SEC seconds is queued again (default 60)")  # fmt: skip
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

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    config = ServeConfig(workers=args.concurrency, lease_s=args.lease_s)
    stores = open_service_stores(LabConfig.from_env())
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        callbacks = CallbackSender(config.callback_attempts, config.callback_backoff_s)
        pool = WorkerPool(stores.jobs, Scanner(), UploadStore(stores.uploads_dir), stores.reports_dir, config,
                          on_finished=_callback_for(callbacks))  # fmt: skip
        pool.start()
        print(f"dflab worker: {config.workers} scan thread(s) on the job queue; SIGTERM or Ctrl-C stops",
              file=sys.stderr, flush=True)  # fmt: skip
        stopping.wait()
        pool.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stores.close()
    return 0


def _callback_for(callbacks):
    """Signed completion callbacks, as `dflab serve` sends them for the jobs its own workers finish."""
    import json

    def on_finished(job) -> None:
        payload = json.loads(job.payload)
        if payload.get("callback_url"):
            state = "failed" if job.state == "dead" else job.state
            callbacks.send(payload["callback_url"], payload.get("callback_secret", ""), {"id": job.id, "state": state})

    return on_finished
