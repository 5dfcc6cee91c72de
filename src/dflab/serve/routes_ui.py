"""The web UI's page (plain HTML/CSS/JS from static/, no external assets) and the health endpoints.

`/?token=TOKEN` (the link `dflab serve` prints) sets the session cookie and redirects to `/`, so the token does
not stay in the address bar or the browser history.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from dflab.serve.auth import COOKIE_NAME, SESSION_DAYS, Unauthorized
from dflab.serve.deps import service_of
from dflab.serve.models import Health

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request, token: str | None = None):
    service = service_of(request)
    if token is not None:
        key = service.stores.keys.verify(token)
        if key is None:
            raise Unauthorized("this link's token is not valid any more; use the link `dflab serve` printed last")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE_NAME, service.sessions.cookie_for(key), max_age=SESSION_DAYS * 86400,
                            httponly=True, samesite="strict", secure=request.url.scheme == "https")  # fmt: skip
        return response
    page = resources.files("dflab.serve").joinpath("static", "index.html").read_text()
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/healthz", response_model=Health, tags=["health"], summary="The process answers")
def healthz():
    return {"status": "ok"}


@router.get("/readyz", response_model=Health, tags=["health"],
            summary="Models loaded and stores reachable (503 until then)")  # fmt: skip
def readyz(request: Request):
    service = service_of(request)
    detail = {"models_loaded": service.ready.is_set(), "workers": service.config.workers}
    if service.scan_process is not None:  # scans in a worker process: which one (its models are the ones loaded)
        detail["scan_process_pid"] = service.scan_process.pid
        detail["scan_processes"] = service.scan_process.processes  # that one and the ones it started beside it
    try:
        detail["jobs"] = service.stores.jobs.counts()
    except Exception as exc:  # noqa: BLE001 - the answer is "not ready", with why
        return JSONResponse({"status": "unavailable", "detail": {**detail, "error": type(exc).__name__}}, 503)
    if service.ready_error:
        return JSONResponse({"status": "unavailable", "detail": {**detail, "error": service.ready_error}}, 503)
    if not service.ready.is_set():
        return JSONResponse({"status": "starting", "detail": detail}, 503)
    return {"status": "ready", "detail": detail}
