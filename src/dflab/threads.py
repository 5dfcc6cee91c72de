"""Torch's thread count: chosen once for the process, never changed around each inference.

`torch.set_num_threads` changes a process-wide setting. Setting it around every call and restoring it
afterwards (as the face-crop detector once did) races when several scans run in threads: one scan's
restore undoes another's choice mid-inference. So a Scanner *requests* a count once; it is applied at
once if torch is already loaded, or by `apply_torch_threads()`, which dflab's torch models call when they
load. Importing torch costs seconds, so nothing here imports it for a scan that does not need it.

FAISS needs no such care: its OpenMP thread count is per calling thread (checked in
tests/provenance/test_faiss_threads.py), so a per-call setting there cannot leak into other threads.
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()
_requested: int | None = None
_applied: int | None = None


def request_torch_threads(count: int | None) -> None:
    """Ask for `count` intra-op torch threads in this process (None: leave torch's own setting alone)."""
    global _requested
    if count is not None and count < 1:
        from dflab.errors import UsageError

        raise UsageError(f"torch threads must be at least 1, got {count}")
    with _lock:
        _requested = count
    if "torch" in sys.modules:
        apply_torch_threads()


def apply_torch_threads() -> None:
    """Set the requested count if it is not in force yet; a no-op afterwards (cheap enough to call per scan)."""
    global _applied
    with _lock:
        if _requested is None or _requested == _applied:
            return
        import torch

        torch.set_num_threads(_requested)
        _applied = _requested


def requested_torch_threads() -> int | None:
    return _requested
