"""The face-crop network run in a child process started with the scan, so that loading it (ONNX Runtime, or torch
the first time, about a second with the GIL held, beside the face stage) and the forward passes run beside the
scan's threads, not between them (docs/performance.md). The scan's process cuts the aligned crops as before; the
child (face_crop_worker.py) returns the same probabilities and Grad-CAM as the network in this process (the same
code, weights, runtime and thread count)."""

from __future__ import annotations

import json

import numpy as np

from dflab.detect.learned import face_crop_worker
from dflab.detect.learned.face_crop_worker import CAM_HEAD, PROBS_HEAD
from dflab.worker_commands import FACE_CROP_WHAT, face_crop_worker_command
from dflab.worker_process import claim_or_start


def worker_command(weights: str | None) -> list[str]:
    from dflab.threads import requested_torch_threads

    return face_crop_worker_command(face_crop_worker.__name__, weights, requested_torch_threads())


class FaceCropProcess:
    """`meta()`, `probabilities(crops, batch_size)` and `grad_cam(crop)` of the network in a child process; `close()`
    ends it. `command` replaces the child's command line (tests)."""

    def __init__(self, weights: str | None = None, command: list[str] | None = None, **worker_options) -> None:
        self._worker = claim_or_start(command or worker_command(weights), FACE_CROP_WHAT, **worker_options)
        self._meta: dict | None = None
        self.early = None  # FaceCropDetector.start_apart's Future: (meta, the cut crops, the probabilities' ticket)

    def meta(self) -> dict:
        if self._meta is None:
            self._meta = json.loads(self._worker.reply(self._worker.request(b"M")))
        return self._meta

    def probabilities(self, crops: np.ndarray, batch_size: int) -> np.ndarray:
        """P(fake) per uint8 (N, H, W, 3) crop, float64 (N,)."""
        return self.probabilities_of(self.request_probabilities(crops, batch_size))

    def request_probabilities(self, crops: np.ndarray, batch_size: int) -> int:
        """Queue `probabilities(crops, batch_size)` without waiting; its ticket for `probabilities_of`."""
        count, height, width = crops.shape[:3]
        head = b"P" + PROBS_HEAD.pack(batch_size, count, height, width)
        return self._worker.request(head + np.ascontiguousarray(crops, np.uint8).tobytes())

    def probabilities_of(self, ticket: int) -> np.ndarray:
        return np.frombuffer(self._worker.reply(ticket), np.float64).copy()

    def grad_cam(self, crop: np.ndarray) -> np.ndarray:
        height, width = crop.shape[:2]
        reply = self._worker.reply(self._worker.request(b"C" + CAM_HEAD.pack(height, width)
                                                        + np.ascontiguousarray(crop, np.uint8).tobytes()))
        return np.frombuffer(reply, np.float32).reshape(height, width).copy()

    def close(self) -> None:
        self._worker.close()

    def __enter__(self) -> FaceCropProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
