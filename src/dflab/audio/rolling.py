"""Slices of a recording that arrives in chunks, holding only the part still to be asked for.

A long recording at its own sample rate (44.1/48 kHz) is decoded as a stream of chunks; the speed cue reads
it as a sequence of (start, stop) sample ranges whose starts never go back (its blocks and 10 s windows in
time order). Samples before the earliest start still to come are dropped, so what is held is one range plus
a chunk, whatever the length of the recording.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np


class RollingSamples:
    def __init__(self, chunks: Iterable[np.ndarray]) -> None:
        self._chunks = iter(chunks)
        self._held: deque[np.ndarray] = deque()
        self._held_from = 0  # index in the recording of the first held sample
        self._held_to = 0  # one past the last held sample
        self.exhausted = False

    def _read_until(self, stop: int) -> None:
        while self._held_to < stop and not self.exhausted:
            chunk = next(self._chunks, None)
            if chunk is None:
                self.exhausted = True
                break
            self._held.append(chunk)
            self._held_to += len(chunk)

    def release_before(self, index: int) -> None:
        """Forget the samples before `index`; later ranges must start at or after it."""
        while self._held and self._held_from + len(self._held[0]) <= index:
            self._held_from += len(self._held.popleft())

    def take(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) (fewer where the recording ends first); start must not be before a release."""
        if start < self._held_from:
            raise ValueError(f"samples from {start} were already released (held from {self._held_from})")
        self._read_until(stop)
        stop = min(stop, self._held_to)
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        parts, at = [], self._held_from
        for chunk in self._held:
            lo, hi = max(start, at), min(stop, at + len(chunk))
            if lo < hi:
                parts.append(chunk[lo - at : hi - at])
            at += len(chunk)
            if at >= stop:
                break
        return np.concatenate(parts) if len(parts) != 1 else parts[0].copy()
