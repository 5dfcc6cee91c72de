"""Helpers shared by the CLI tests that drive real worker processes."""

from __future__ import annotations

import time


def wait_until(condition, timeout_s: float, what: str):
    """Poll `condition` every 0.2 s until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
