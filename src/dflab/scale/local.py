"""The local engine of `dflab batch`: one process, or a pool of N processes each holding one Scanner.

Models load once per process (each worker builds its Scanner when it starts), so N workers cost N times the
model memory and give up to N times the files per second on N free cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager

_worker_scanner = None
_worker_lab = None


def run_local(paths: list[str], workers: int, register: bool, on_line: Callable[[str, str], None]) -> None:
    if workers <= 1:
        import dflab
        from dflab.lab import Lab

        scanner = dflab.Scanner()
        lab = Lab.default() if register else None
        try:
            for path in paths:
                on_line(path, _line(scanner, path, register, lab))
        finally:
            if lab is not None:
                lab.close()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a fresh interpreter per worker, no torch or FAISS thread state inherited from a fork
    context = multiprocessing.get_context("spawn")
    threads = threads_per_worker(workers)
    with _native_thread_env(threads), ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                                          initializer=_init_worker, initargs=(register, threads)) as pool:  # fmt: skip
        for path, line in _unordered(pool, paths):
            on_line(path, line)


# Thread pools of the native libraries a scan uses, sized from these variables when they first load.
NATIVE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def threads_per_worker(workers: int) -> int:
    """The cores divided between the workers. Each library otherwise sizes its pool to every core in every
    worker (OpenCV, BLAS, OpenMP), so N workers would run N times the threads the cores can serve."""
    import os

    return max(1, (os.cpu_count() or 1) // max(1, workers))


@contextmanager
def _native_thread_env(threads: int):
    """NATIVE_THREAD_VARIABLES set while the pool starts its workers (they inherit the environment), then taken
    out of the parent's again. Variables the user set are left as they are."""
    import os

    added = [name for name in NATIVE_THREAD_VARIABLES if name not in os.environ]
    os.environ.update({name: str(threads) for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _unordered(pool, paths: Iterable[str]):
    from concurrent.futures import as_completed

    futures = {pool.submit(_scan_in_worker, path): path for path in paths}
    for future in as_completed(futures):
        yield futures[future], future.result()


def _init_worker(register: bool, threads: int = 1) -> None:
    global _worker_scanner, _worker_lab
    import cv2

    import dflab

    cv2.setNumThreads(threads)  # OpenCV's pool ignores OMP_NUM_THREADS
    _worker_scanner = dflab.Scanner()  # one torch thread (DEFAULT_TORCH_THREADS)
    if register:
        from dflab.lab import Lab

        _worker_lab = Lab.default()


def _scan_in_worker(path: str) -> str:
    return _line(_worker_scanner, path, _worker_lab is not None, _worker_lab)


def _line(scanner, path: str, register: bool, lab) -> str:
    from dflab.scale.results import json_line, scan_document

    return json_line(scan_document(scanner, path, register, lab))
