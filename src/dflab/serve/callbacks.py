"""Callbacks: when a scan finishes, POST `{"id", "state"}` to the URL the client gave, signed, retried with backoff.

Signature (Stripe-style, so a receiver can refuse replays): header `X-Dflab-Signature: t=UNIX_TIME,v1=HEX`, HEX =
HMAC-SHA256(secret, f"{t}.{body}"). The secret is the `callback_secret` form field sent with the scan, or else
the SHA-256 (hex) of the API key that submitted it, so a client with a key needs no other shared secret.
Deliveries live in memory: a callback still being retried when the server stops is not sent again (the job's
state stays readable at GET /v1/scans/{id}).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from dflab.errors import UsageError

SIGNATURE_HEADER = "X-Dflab-Signature"
TIMEOUT_S = 10.0
log = logging.getLogger("dflab.serve")


def check_callback_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"callback_url must be an http(s) URL, got {url!r}")
    return url


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, tolerance_s: float = 300.0, now: float | None = None) -> bool:
    """For receivers (and tests): the header matches the body and is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


class CallbackSender:
    def __init__(self, attempts: int = 5, backoff_s: float = 1.0) -> None:
        self.attempts, self.backoff_s = attempts, backoff_s

    def send(self, url: str, secret: str, document: dict) -> threading.Thread:
        """Deliver in the background; returns the thread (tests join it)."""
        thread = threading.Thread(target=self._deliver, args=(url, secret, document), name="dflab-callback",
                                  daemon=True)  # fmt: skip
        thread.start()
        return thread

    def _deliver(self, url: str, secret: str, document: dict) -> bool:
        body = json.dumps(document, separators=(",", ":")).encode()
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body, int(time.time())),
                "User-Agent": "dflab-serve"})  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - checked scheme
                    if 200 <= response.status < 300:
                        return True
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.info("callback to %s failed (attempt %d): %s", url, attempt, exc)
            if attempt < self.attempts:
                time.sleep(delay)
                delay *= 2
        log.warning("callback to %s gave up after %d attempts", url, self.attempts)
        return False
