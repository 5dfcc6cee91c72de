"""The child side of faces/embedding_process.py: dlib's 128-d face descriptor of aligned chips, one after another.

Run as `python -P embedding_worker.py ENCODER_MODEL` (a script, not `-m dflab.faces...`, so the child imports
numpy, dlib and dflab.worker_protocol, never the dflab.faces package: its imports would cost the child a few
tenths of a second more). A request's payload is one CHIP_SIDE x CHIP_SIDE x 3 uint8 RGB chip (dlib's
get_face_chip at its defaults: 150 px, padding 0.25); the reply is EMBEDDING_DIM float32 values.
"""

from __future__ import annotations

import sys

CHIP_SIDE = 150
EMBEDDING_DIM = 128


def describer(encoder_path: str):
    """The request handler: chip bytes -> descriptor bytes."""
    import dlib
    import numpy as np

    encoder = dlib.face_recognition_model_v1(encoder_path)

    def describe(payload: bytes) -> bytes:
        chip = np.frombuffer(payload, np.uint8).reshape(CHIP_SIDE, CHIP_SIDE, 3)
        return np.asarray(encoder.compute_face_descriptor(chip), dtype=np.float32).tobytes()

    return describe


if __name__ == "__main__":
    from dflab.worker_protocol import child_main

    sys.exit(child_main(lambda: describer(sys.argv[1])))
