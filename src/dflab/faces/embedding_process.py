"""Identity embeddings described in a second process, so that they run beside the rest of a scan.

dlib's `compute_face_descriptor` holds the GIL for the whole of each 60-90 ms call: in the scan's own process
the 14-16 embeddings of a 10 s clip (about a second) stop every other Python thread, so the cues that should
run beside them wait instead (docs/performance.md). Here the scan's process only places dlib's 5 points and
cuts the aligned 150 px chip (`faces.identity.face_chip`, a few ms); a child started at the beginning of the
scan (dflab/worker_process.py running faces/embedding_worker.py: numpy and dlib only) computes the
descriptors, which are `embed(rgb, box)`'s bit for bit.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from dflab.errors import WorkerFailed
from dflab.faces import embedding_worker
from dflab.worker_commands import EMBEDDING_WHAT, embedding_worker_command
from dflab.worker_process import claim_or_start


def worker_command() -> list[str]:
    """The child's command line: this interpreter running the worker script on the encoder model's file."""
    return embedding_worker_command()


class EmbeddingProcess:
    """`submit(key, rgb, box)` cuts the face chip here and queues it; `results()` waits for every descriptor
    submitted so far and returns them by key; `close()` ends the child (also as a context manager). `command`
    replaces the child's command line (tests)."""

    def __init__(self, command: list[str] | None = None, **worker_options) -> None:
        self._worker = claim_or_start(command or worker_command(), EMBEDDING_WHAT, **worker_options)
        self._pending: dict[Hashable, int] = {}
        self._done: dict[Hashable, np.ndarray] = {}

    def submit(self, key: Hashable, rgb: np.ndarray, box: tuple[float, float, float, float]) -> None:
        """Queue the identity embedding of the face inside `box` of `rgb`; a bad box raises here, as embed's does."""
        from dflab.faces.identity import face_chip

        chip = np.ascontiguousarray(face_chip(rgb, box), dtype=np.uint8)
        side = embedding_worker.CHIP_SIDE
        if chip.shape != (side, side, 3):
            raise WorkerFailed(f"identity embeddings: dlib cut a {chip.shape} face chip, expected {side}x{side}x3")
        self._pending[key] = self._worker.request(chip.tobytes())

    def submitted(self, key: Hashable) -> bool:
        return key in self._pending or key in self._done

    def results(self) -> dict[Hashable, np.ndarray]:
        """Every descriptor submitted so far, by key (waits for them; WorkerFailed if the child fails or hangs)."""
        for key, request in list(self._pending.items()):
            self._done[key] = np.frombuffer(self._worker.reply(request), np.float32).copy()
            del self._pending[key]
        return dict(self._done)

    def close(self) -> None:
        self._worker.close()

    def __enter__(self) -> EmbeddingProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
