"""The local engine of `dflab batch`: one process, or a pool of N processes each holding one Scanner.

Models load once per process (each worker builds its Scanner when it starts), so N workers cost N times the
model memory and give up to N times the files per second on N free cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

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
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=(register,)) as pool:  # fmt: skip
        for path, line in _unordered(pool, paths):
            on_line(path, line)


def _unordered(pool, paths: Iterable[str]):
    from concurrent.futures import as_completed

    futures = {pool.submit(_scan_in_worker, path): path for path in paths}
    for future in as_completed(futures):
        yield futures[future], future.result()


def _init_worker(register: bool) -> None:
    global _worker_scanner, _worker_lab
    import dflab

    _worker_scanner = dflab.Scanner()
    if register:
        from dflab.lab import Lab

        _worker_lab = Lab.default()


def _scan_in_worker(path: str) -> str:
    return _line(_worker_scanner, path, _worker_lab is not None, _worker_lab)


def _line(scanner, path: str, register: bool, lab) -> str:
    from dflab.scale.results import json_line, scan_document

    return json_line(scan_document(scanner, path, register, lab))
