"""`create_app(lab, config)`: the FastAPI application of `dflab serve`, built on stores passed in.

    from dflab.lab import Lab
    from dflab.serve.app import create_app
    from dflab.serve.config import ServeConfig
    app = create_app(Lab.default(), ServeConfig(workers=2))     # serve it with uvicorn

Everything the routes need lives on one `Service` (app.state.service): the lab (ledger, registry, keys), the
job and API-key stores, the upload store, one Scanner shared by the worker threads, the browser sessions and the
rate limiter. The workers start with the application and stop with it.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from dflab.errors import UsageError
from dflab.serve.auth import RateLimiter, Sessions, ensure_ui_token, session_secret, TOKEN_ENV
from dflab.serve.callbacks import CallbackSender
from dflab.serve.config import ServeConfig
from dflab.serve.jobs import WorkerPool
from dflab.serve.stores import ServiceStores, open_service_stores
from dflab.serve.uploads import UploadStore
from dflab.serve.worker_process import ScanProcess

log = logging.getLogger("dflab.serve")


@dataclass
class Service:
    lab: object
    stores: ServiceStores
    config: ServeConfig
    uploads: UploadStore
    scanner: object
    sessions: Sessions
    limiter: RateLimiter
    callbacks: CallbackSender
    ui_token: str
    models_fingerprint: str
    pool: WorkerPool | None = None
    scan_process: ScanProcess | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    ready_error: str | None = None

    def scrub(self, text: str) -> str:
        """Messages and documents name the uploaded file, never its path on this server."""
        return self.uploads.display_name(text)


def build_service(lab, config: ServeConfig, *, stores: ServiceStores | None = None, scanner=None,
                  ui_token: str | None = None) -> Service:  # fmt: skip
    from dflab.detect.models_used import models_fingerprint
    from dflab.detect.scanner import Scanner

    if stores is None:
        if lab.config is None:
            raise ValueError("a lab without a home (Lab.memory()) needs stores= for the service")
        stores = open_service_stores(lab.config)
    stores.root.mkdir(parents=True, exist_ok=True)
    token = ensure_ui_token(stores.keys, stores.token_file, ui_token or os.environ.get(TOKEN_ENV))
    scanner = scanner or Scanner()
    return Service(
        lab=lab, stores=stores, config=config, uploads=UploadStore(stores.uploads_dir), scanner=scanner,
        sessions=Sessions(session_secret(stores.session_secret_file), stores.keys),
        limiter=RateLimiter(config.rate_per_minute),
        callbacks=CallbackSender(config.callback_attempts, config.callback_backoff_s), ui_token=token,
        models_fingerprint=models_fingerprint(scanner.detectors),
    )  # fmt: skip


def create_app(lab, config: ServeConfig | None = None, *, service: Service | None = None, start_workers: bool = True):
    """The application. `service` (from build_service) lets a caller keep a handle on the stores and token."""
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from dflab.serve import routes_log, routes_provenance, routes_scans, routes_ui
    from dflab.serve.problems import install_handlers
    from dflab.version import __version__

    config = config or ServeConfig()
    service = service or build_service(lab, config)

    in_child = start_workers and config.workers > 0 and config.scan_in == "process"
    if in_child and not _stores_shareable(service):
        raise UsageError("scans in a worker process need the lab's own job store (on disk or in PostgreSQL), "
                         "which the worker opens from the lab's home")  # fmt: skip

    @asynccontextmanager
    async def lifespan(app):
        if in_child:  # the child loads the models; this process never needs them
            service.scan_process = _scan_process(service, config)
            service.scan_process.start()
        else:
            threading.Thread(target=_warm, args=(service,), name="dflab-warm", daemon=True).start()
        if start_workers and not in_child:
            service.pool = WorkerPool(service.stores.jobs, service.scanner, service.uploads,
                                      service.stores.reports_dir, config, on_finished=_callback_for(service))
            service.pool.start()
        try:
            yield
        finally:
            if service.pool is not None:
                service.pool.stop()
            if service.scan_process is not None:
                service.scan_process.stop()

    app = FastAPI(
        title="dflab", version=__version__, lifespan=lifespan,
        description="Detect manipulated media, check provenance and trace copies (docs/service.md). Writes need "
        "`Authorization: Bearer KEY` (`dflab api-key create NAME`); verify, trace and the ledger are public.",
    )  # fmt: skip
    app.state.service = service
    install_handlers(app, service.scrub)
    for module in (routes_scans, routes_provenance, routes_log, routes_ui):
        app.include_router(module.router)
    static = resources.files("dflab.serve").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(Path(str(static)))), name="static")
    return app


def _stores_shareable(service: Service) -> bool:
    """Whether a child process opening the lab's service stores finds this service's jobs."""
    from dflab.serve.stores import SERVE_DIR

    config = service.lab.config
    return (config is not None and hasattr(service.stores.jobs, "database")
            and Path(service.stores.root) == Path(config.home) / SERVE_DIR)  # fmt: skip


def _scan_process(service: Service, config: ServeConfig) -> ScanProcess:
    def on_ready() -> None:
        service.ready_error = None
        service.ready.set()

    def on_down(reason: str) -> None:
        service.ready.clear()
        service.ready_error = reason

    processes, threads = config.scan_layout
    return ScanProcess(threads=threads, processes=processes, lease_s=config.lease_s, nice=config.scan_nice,
                       lab_config=service.lab.config, on_ready=on_ready, on_down=on_down)  # fmt: skip


def _warm(service: Service) -> None:
    """Load every model in the background: /readyz answers 503 until this is done."""
    try:
        service.scanner.warm()
    except Exception as exc:  # noqa: BLE001 - reported by /readyz, and again by each scan that needs the model
        service.ready_error = f"{type(exc).__name__}: {exc}"
        log.exception("loading the models failed")
    service.ready.set()


def _callback_for(service: Service):
    import json

    def on_finished(job) -> None:
        payload = json.loads(job.payload)
        url = payload.get("callback_url")
        if url:
            state = "failed" if job.state == "dead" else job.state
            service.callbacks.send(url, payload.get("callback_secret", ""), {"id": job.id, "state": state})

    return on_finished
