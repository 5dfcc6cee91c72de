"""The child side of detect/learned/face_crop_process.py: the face-crop network in its own process.

Run as `python -P -m dflab.detect.learned.face_crop_worker WEIGHTS THREADS` (WEIGHTS "-": the shipped file;
THREADS "-": the runtime's own count). It loads the network at once (face_crop_runtime: its ONNX export, or
torch while there is none), while the scan that started it decodes. Requests (dflab/worker_protocol.py) start
with one letter:

- b"M": the weights' meta (crop size, padding, ...) as JSON;
- b"P" + uint32 batch size, count, height, width + the uint8 RGB crops: P(fake) per crop, float64;
- b"C" + uint32 height, width + one uint8 RGB crop: its Grad-CAM, float32 of the crop's size.
"""

from __future__ import annotations

import json
import struct
import sys

import numpy as np

PROBS_HEAD = struct.Struct("<IIII")  # batch size, crops, height, width
CAM_HEAD = struct.Struct("<II")  # height, width


def network(weights: str | None, threads: int | None):
    """The request handler around the loaded network (its ONNX export, or torch while there is none)."""
    from dflab.detect.learned.face_crop_runtime import load_network

    loaded = load_network(weights, threads)
    meta = loaded.meta

    def handle(payload: bytes) -> bytes:
        op, body = payload[:1], memoryview(payload)[1:]
        if op == b"M":
            return json.dumps(meta).encode()
        if op == b"P":
            batch, count, height, width = PROBS_HEAD.unpack_from(body)
            crops = np.frombuffer(body, np.uint8, offset=PROBS_HEAD.size).reshape(count, height, width, 3)
            return np.ascontiguousarray(loaded.probabilities(crops, batch), dtype=np.float64).tobytes()
        if op == b"C":
            height, width = CAM_HEAD.unpack_from(body)
            crop = np.frombuffer(body, np.uint8, offset=CAM_HEAD.size).reshape(height, width, 3)
            return np.ascontiguousarray(loaded.grad_cam(crop), dtype=np.float32).tobytes()
        raise ValueError(f"unknown request {bytes(op)!r}")

    return handle


if __name__ == "__main__":
    from dflab.worker_protocol import child_main

    weights_arg, threads_arg = sys.argv[1], sys.argv[2]
    sys.exit(child_main(lambda: network(None if weights_arg == "-" else weights_arg,
                                        None if threads_arg == "-" else int(threads_arg))))
