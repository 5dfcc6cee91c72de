"""What routes ask for: the service, the caller's key (Bearer header or session cookie), the rate limit."""

from __future__ import annotations

from starlette.requests import Request

from dflab.serve.auth import COOKIE_NAME, Unauthorized, bearer_key
from dflab.storage.api_keys import ApiKey


def service_of(request: Request):
    return request.app.state.service


def caller(request: Request) -> ApiKey | None:
    """The key behind the request: a Bearer key, else the browser's session cookie; None for anonymous."""
    service = service_of(request)
    presented = bearer_key(request.headers.get("authorization"))
    if presented is not None:
        key = service.stores.keys.verify(presented)
        if key is None:
            raise Unauthorized("the API key is not valid (revoked, or never created here)")
        return key
    return service.sessions.check(request.cookies.get(COOKIE_NAME))


def require_key(request: Request) -> ApiKey:
    """Writes and private reads: a valid key or session, within its rate limit."""
    key = caller(request)
    if key is None:
        raise Unauthorized("send Authorization: Bearer KEY (make one with `dflab api-key create NAME`) or open the "
                           "link `dflab serve` printed")  # fmt: skip
    service_of(request).limiter.take(f"key:{key.name}")
    return key


def public_caller(request: Request) -> ApiKey | None:
    """Public reads: anyone, rate-limited per key when one is sent, else per client address."""
    key = caller(request)
    where = f"key:{key.name}" if key is not None else f"ip:{request.client.host if request.client else '-'}"
    service_of(request).limiter.take(where)
    return key
