"""Every error the service answers is `application/problem+json` (RFC 9457): a status, a title, and the same one
line the CLI prints as `detail`, never a stack trace and never a server path."""

from __future__ import annotations

import logging

from dflab.errors import (
    BadMedia, DflabError, IntegrityError, LimitExceeded, NoFace, NotFound, Unsupported, UsageError,
)  # fmt: skip
from dflab.serve.auth import RateLimited, Unauthorized
from dflab.storage import StoreBusy

PROBLEM_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request", 401: "Unauthorized", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
    413: "Content too large", 415: "Unsupported media type", 422: "Unprocessable content", 429: "Too many requests",
    500: "Internal server error", 503: "Service unavailable",
}  # fmt: skip
log = logging.getLogger("dflab.serve")


def status_for(exc: BaseException) -> int:
    """The HTTP status of a DflabError (and of the service's own auth errors)."""
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, RateLimited):
        return 429
    if isinstance(exc, LimitExceeded):
        return 413
    if isinstance(exc, Unsupported):
        return 415
    if isinstance(exc, (BadMedia, NoFace)):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, UsageError):
        return 422
    if isinstance(exc, StoreBusy):
        return 503
    if isinstance(exc, IntegrityError):
        return 500
    if isinstance(exc, DflabError):
        return 422
    return 500


def problem_body(status: int, detail: str, **extra) -> dict:
    return {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail, **extra}


def problem_response(status: int, detail: str, headers: dict | None = None, **extra):
    from fastapi.responses import JSONResponse

    return JSONResponse(problem_body(status, detail, **extra), status_code=status, headers=headers,
                        media_type=PROBLEM_TYPE)  # fmt: skip


def install_handlers(app, scrub) -> None:
    """Turn every exception into a problem response. `scrub(text)` removes server paths from messages."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def on_dflab(request, exc: DflabError):
        return problem_response(status_for(exc), scrub(str(exc)))

    async def on_unauthorized(request, exc: Unauthorized):
        return problem_response(401, str(exc) or "send Authorization: Bearer KEY (dflab api-key create NAME)",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    async def on_rate(request, exc: RateLimited):
        return problem_response(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)})

    async def on_http(request, exc: HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    async def on_validation(request, exc: RequestValidationError):
        errors = exc.errors()
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}" for e in errors[:5]]
        return problem_response(422, "; ".join(parts) or "invalid request")

    async def on_other(request, exc: Exception):
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return problem_response(500, "the server hit an unexpected error; it has been logged")

    app.add_exception_handler(DflabError, on_dflab)
    app.add_exception_handler(Unauthorized, on_unauthorized)
    app.add_exception_handler(RateLimited, on_rate)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_other)
