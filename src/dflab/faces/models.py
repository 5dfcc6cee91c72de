"""Lazy, cached loading of the face models (MediaPipe graphs and dlib networks), with their log spam muted.

Everything heavy is imported inside functions so `import dflab.faces` stays cheap. Stateless models are
built once per process and shared behind one lock (MediaPipe graphs must not run concurrently); the
video FaceMesh keeps tracking state, so every analysed clip gets a fresh one from `new_video_mesh`.

Muting stderr swaps file descriptor 2, which belongs to the whole process, so it only ever happens under
MODEL_LOCK: two scans in two threads that muted at once used to save each other's /dev/null and restore
it, leaving the process's stderr muted for good.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from contextlib import contextmanager
from typing import Any, Iterator

from dflab.worker_commands import dlib_model_path  # noqa: F401 (also read from here)

MODEL_LOCK = threading.RLock()  # hold while calling any cached model (graphs are not re-entrant)
_CACHE: dict[str, Any] = {}

# Detector settings: the full-range BlazeFace finds faces down to ~20 px that FaceMesh's built-in
# short-range detector misses (group photos, stage shots).
DETECTION_CONFIDENCE = 0.5
CROP_MESH_SIZE = 256  # side of the square crop that FaceMesh sees when we feed it one face


def _quiet_env() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextmanager
def silenced_stderr() -> Iterator[None]:
    """Mute file descriptor 2 while MediaPipe/TFLite start up: they print straight from C++.

    Only used around model construction and the first inference, so real errors later still show.
    Holds MODEL_LOCK while muted (see the module docstring): the descriptor saved here is always the real
    one, and a nested mute in the same thread saves and restores /dev/null harmlessly. Other threads'
    writes to stderr during the (short) muted spans are lost; nothing else changes for them.
    """
    fd = 2  # the C++ side writes to descriptor 2 whatever Python's sys.stderr currently is
    with MODEL_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(fd)
        except (OSError, ValueError, AttributeError):  # no descriptor 2 (e.g. a detached daemon): nothing to mute
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            os.close(devnull)


def _mp_solutions():
    _quiet_env()
    from dflab.lazy_modules import MEDIAPIPE_DRAWING, deferred  # noqa: PLC0415

    # Its drawing helpers import matplotlib.pyplot (~0.6 s CPU); dflab never draws with them.
    with silenced_stderr(), deferred(MEDIAPIPE_DRAWING):
        import mediapipe as mp  # noqa: PLC0415 (heavy, lazy on purpose)

        try:
            from absl import logging as absl_logging  # noqa: PLC0415

            absl_logging.set_verbosity(absl_logging.ERROR)
        except ImportError:  # pragma: no cover - absl ships with mediapipe
            pass
    return mp.solutions


def _warm(graph: Any, side: int = 64) -> Any:
    """Run one blank frame through a new graph so its start-up chatter happens while stderr is muted."""
    import numpy as np  # noqa: PLC0415

    graph.process(np.zeros((side, side, 3), np.uint8))
    return graph


def _build(name: str) -> Any:
    if name == "detector":
        mp = _mp_solutions()
        with silenced_stderr():
            return _warm(mp.face_detection.FaceDetection(model_selection=1, min_detection_confidence=DETECTION_CONFIDENCE))
    if name == "crop_mesh":
        # Two faces so that, when a neighbour shares the crop, we can pick the one in the middle.
        mp = _mp_solutions()
        with silenced_stderr():
            return _warm(mp.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=2))
    if name.startswith("image_mesh:"):
        mp = _mp_solutions()
        with silenced_stderr():
            return _warm(
                mp.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=int(name.split(":")[1]))
            )
    if name in ("dlib_shape5", "dlib_encoder"):
        import dlib  # noqa: PLC0415

        if name == "dlib_shape5":
            return dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
        return dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    raise KeyError(name)


def model(name: str) -> Any:
    """The one loader: 'detector', 'crop_mesh', 'image_mesh:<max_faces>', 'dlib_shape5', 'dlib_encoder'."""
    with MODEL_LOCK:
        if name not in _CACHE:
            _CACHE[name] = _build(name)
        return _CACHE[name]


def new_video_mesh(max_faces: int) -> Any:
    """A fresh tracking-mode FaceMesh (stateful: one per clip, close it with `close_graph` when done).

    Built and warmed under MODEL_LOCK like every other graph: its first blank frame runs through MediaPipe
    while other threads may be using the shared graphs."""
    with MODEL_LOCK:
        mp = _mp_solutions()
        with silenced_stderr():
            return _warm(mp.face_mesh.FaceMesh(static_image_mode=False, refine_landmarks=True, max_num_faces=max_faces))


def close_graph(graph: Any) -> None:
    """Close a graph from `new_video_mesh` (under the lock: MediaPipe may be running another graph)."""
    with MODEL_LOCK:
        graph.close()


def load_all(max_faces: int = 4) -> None:
    """Build every cached face model now (a long-running service pays the start-up once, before its first file)."""
    for name in ("detector", "crop_mesh", f"image_mesh:{max_faces}", "dlib_shape5", "dlib_encoder"):
        model(name)
    close_graph(new_video_mesh(max_faces))  # the tracking graph's own start-up chatter and first-use costs


_SPOKEN: weakref.WeakSet = weakref.WeakSet()  # graphs that already printed their first-result warnings


def run_graph(graph: Any, rgb: Any) -> Any:
    """graph.process(rgb) under the model lock.

    MediaPipe prints a one-off C++ warning the first time a graph produces landmarks (e.g. about
    NORM_RECT projection), so stderr stays muted until a graph has returned a non-empty result once.
    """
    with MODEL_LOCK:
        if graph in _SPOKEN:
            return graph.process(rgb)
        with silenced_stderr():
            result = graph.process(rgb)
        if getattr(result, "multi_face_landmarks", None) or getattr(result, "detections", None):
            _SPOKEN.add(graph)
        return result


