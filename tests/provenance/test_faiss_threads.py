"""The registry index sets FAISS's OpenMP thread count around small searches (provenance/registry/index.py).
That is safe beside other threads only because the OpenMP setting belongs to the calling thread; this checks
that it does, so a FAISS or OpenMP upgrade that made it process-wide would be noticed."""

import threading

import pytest

faiss = pytest.importorskip("faiss")


def _in_a_new_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_faiss_thread_count_is_per_calling_thread():
    # measured in a new thread: this one's count may have been set already (torch sets it in the caller too)
    default = _in_a_new_thread(faiss.omp_get_max_threads)
    if default < 2:
        pytest.skip("needs a default of at least 2 OpenMP threads to tell the settings apart")
    one_set, seen = threading.Event(), {}
    release = threading.Event()

    def narrow() -> None:
        faiss.omp_set_num_threads(1)
        seen["setter"] = faiss.omp_get_max_threads()
        one_set.set()
        release.wait(10)

    def look() -> None:
        one_set.wait(10)
        seen["other"] = faiss.omp_get_max_threads()
        release.set()

    threads = [threading.Thread(target=narrow), threading.Thread(target=look)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"setter": 1, "other": default}
    assert _in_a_new_thread(faiss.omp_get_max_threads) == default
