"""`dflab serve`: the web app and REST API (docs/service.md)."""

from __future__ import annotations

import argparse
import sys

from dflab.errors import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the web app and REST API (upload, scan, verify, trace, ledger)",
        description="Serve the web UI at / and the REST API under /v1 (OpenAPI at /openapi.json, docs at /docs). "
        "Prints one line, `open http://HOST:PORT/?token=TOKEN`: opening it signs the browser in. Writes need that "
        "session or `Authorization: Bearer KEY` (dflab api-key create NAME); verify, trace and the ledger are "
        "public. The token is $DFLAB_TOKEN, or made at first start and kept in $DFLAB_HOME/serve/token (0600).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=2,
                   help="scan threads sharing one set of models (default 2); 0: only queue (for `dflab worker`)")
    p.add_argument("--scan-in", choices=("process", "threads"), default="process",
                   help="where scans run: a worker process this command starts and supervises (default; the API "
                   "never waits for a scan), or threads of this process")  # fmt: skip
    p.add_argument("--scan-processes", type=int, default=1, metavar="P",
                   help="with --scan-in process, spread the --workers scans over P processes, each with its own "
                   "models (default 1: one process of --workers threads; more for a machine with many cores)")  # fmt: skip
    p.add_argument("--scan-nice", type=int, default=0, metavar="N",
                   help="with --scan-in process, lower the scan process's CPU priority by N (0-19, default 0): "
                   "requests then get the CPU before scans, at the cost of scans on a busy machine")  # fmt: skip
    p.add_argument("--keep-days", type=float, default=7.0, help="delete uploads and finished scans after D days (default 7)")
    p.add_argument("--max-upload-mb", type=int, default=512, help="refuse uploads larger than this (default 512)")
    p.add_argument("--rate-limit", type=int, default=120, metavar="N",
                   help="requests per minute per API key (or per address without one); default 120")
    p.add_argument("--lease-s", type=float, default=60.0, metavar="SEC",
                   help="a scan whose worker stops answering for SEC seconds is queued again (default 60)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dflab.serve.config import ServeConfig

    config = ServeConfig(host=args.host, port=args.port, workers=args.workers, keep_days=args.keep_days,
                         max_upload_mb=args.max_upload_mb, rate_per_minute=args.rate_limit, lease_s=args.lease_s,
                         scan_in=args.scan_in, scan_nice=args.scan_nice, scan_processes=args.scan_processes)  # fmt: skip
    try:
        import uvicorn

        from dflab.serve.app import build_service, create_app
    except ImportError as exc:
        raise UsageError(f"dflab serve needs the web packages in requirements.txt ({exc.name} is missing)") from None
    from dflab.lab import Lab

    _check_can_listen(config.host, config.port)
    if config.scan_in == "threads":
        # Scans run on threads of this process. A shorter GIL switch interval (default 5 ms) lets the scan threads
        # and the event loop take turns more often: bench/serve_load.py (50 pictures, 2 workers, quiet machine)
        # gave a p99 time to result of 28-30 s against 32-34 s with the default.
        sys.setswitchinterval(0.001)
    with Lab.default() as lab:
        service = build_service(lab, config)
        try:
            app = create_app(lab, config, service=service)
            host = f"[{config.host}]" if ":" in config.host else config.host
            server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning",
                                                   timeout_graceful_shutdown=5))  # fmt: skip
            _announce_when_started(server, f"open http://{host}:{config.port}/?token={service.ui_token}")
            server.run()
            if not server.started:
                raise UsageError(f"cannot listen on {config.host}:{config.port} (in use, or not an address here)")
        finally:
            service.stores.close()
    return 0


def _check_can_listen(host: str, port: int) -> None:
    """Refuse a taken port or a foreign address in one line now, not with a server log after the models load."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _announce_when_started(server, line: str) -> None:
    """Print the link once the socket listens (a script may wait for the line, then connect)."""
    startup = server.startup

    async def startup_then_print(*a, **kw):
        await startup(*a, **kw)
        if server.started:
            print(line, flush=True)

    server.startup = startup_then_print
