"""Who may write: API keys (`Authorization: Bearer KEY`), the browser's session cookie, and per-caller rate limits.

The web UI's token is an API key named `web-ui`: taken from DFLAB_TOKEN, or made at first start and kept in clear
in DFLAB_HOME/serve/token (mode 0600, for the person who runs the server) and hashed in the key store. Opening
`/?token=TOKEN` swaps the token for a session cookie: the cookie carries the key's name and hint, an expiry and
an HMAC under a secret kept beside the token, never the token itself, so it cannot be replayed as a Bearer key
and stops working when the key is revoked. SameSite=Strict keeps other sites from writing with it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import threading
import time
from pathlib import Path

from dflab.errors import UsageError
from dflab.storage.api_keys import ApiKey, ApiKeyStore

UI_KEY_NAME = "web-ui"
TOKEN_ENV = "DFLAB_TOKEN"
COOKIE_NAME = "dflab_session"
SESSION_DAYS = 30


class Unauthorized(Exception):
    """No valid key or session: 401."""


class RateLimited(Exception):
    """Too many requests: 429 with Retry-After."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


def write_private(path: Path, text: str) -> None:
    """Write a secret readable by the owner only (0600 from the start, never world-readable for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_ui_token(keys: ApiKeyStore, token_file: Path, env_token: str | None) -> str:
    """The token `open http://...?token=` prints: DFLAB_TOKEN if set, else the kept one, else a new one."""
    if env_token:
        found = keys.verify(env_token)
        if found is None:
            keys.revoke(UI_KEY_NAME)
            keys.create(UI_KEY_NAME, key=env_token)
        elif found.name != UI_KEY_NAME:
            raise UsageError(f"{TOKEN_ENV} is already the API key {found.name!r}; give the web UI a token of its own")
        return env_token
    if token_file.is_file():
        kept = token_file.read_text().strip()
        if kept and keys.verify(kept) is not None:
            return kept
    keys.revoke(UI_KEY_NAME)  # a lost or revoked token file: replace the key with a new one
    token = keys.create(UI_KEY_NAME)
    write_private(token_file, token + "\n")
    return token


def session_secret(path: Path) -> bytes:
    if path.is_file():
        secret = bytes.fromhex(path.read_text().strip())
        if len(secret) >= 32:
            return secret
    secret = secrets.token_bytes(32)
    write_private(path, secret.hex() + "\n")
    return secret


class Sessions:
    """Signs and checks the browser's session cookie."""

    def __init__(self, secret: bytes, keys: ApiKeyStore) -> None:
        self._secret = secret
        self._keys = keys

    def cookie_for(self, key: ApiKey, now: float | None = None) -> str:
        expires = int((now or time.time()) + SESSION_DAYS * 86400)
        body = f"{expires}.{key.hint}.{key.name}"
        return f"{self._sign(body)}.{body}"

    def check(self, cookie: str | None, now: float | None = None) -> ApiKey | None:
        if not cookie or cookie.count(".") < 3:
            return None
        mac, body = cookie.split(".", 1)
        if not hmac.compare_digest(mac, self._sign(body)):
            return None
        expires, hint, name = body.split(".", 2)
        if not expires.isdigit() or int(expires) < (now or time.time()):
            return None
        # the key must still be active, and be the same key (a new key of that name gets new sessions)
        return next((k for k in self._keys.list() if k.active and k.name == name and k.hint == hint), None)

    def _sign(self, body: str) -> str:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()


def bearer_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class RateLimiter:
    """A token bucket per caller: `per_minute` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, when counted)

    def take(self, caller: str) -> None:
        """Spend one request of `caller`'s allowance or raise RateLimited."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens < 1.0:
                self._buckets[caller] = (tokens, now)
                raise RateLimited(max(1, math.ceil((1.0 - tokens) / self.rate)))
            self._buckets[caller] = (tokens - 1.0, now)
            if len(self._buckets) > 10_000:  # forget callers whose bucket has refilled
                full = [c for c, (t, w) in self._buckets.items() if t + (now - w) * self.rate >= self.capacity]
                for c in full:
                    del self._buckets[c]
