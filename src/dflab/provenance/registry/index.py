"""FAISS binary index over 256-bit codes, with `build / add / query / serialize`.

Index position i is row i of the SQLite hash table (ids are dense, starting at 0), so the index needs no id map.
"flat" is exact (brute-force Hamming with popcount); "hnsw" is an approximate graph for very large registries.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dflab.atomic import atomic_output
from dflab.errors import IntegrityError, UsageError
from dflab.provenance.registry.hashers import HASH_BITS, HASH_BYTES

INDEX_KINDS = ("flat", "hnsw")
SMALL_BATCH = 64  # up to this many query codes are searched on one thread


class HashIndex:
    """A FAISS IndexBinary holding codes in insertion order."""

    def __init__(self, kind: str = "flat", hnsw_m: int = 16, ef_search: int = 64, faiss_index=None) -> None:
        import faiss

        if kind not in INDEX_KINDS:
            raise UsageError(f"unknown index kind {kind!r}; known: {', '.join(INDEX_KINDS)}")
        self.kind = kind
        if faiss_index is None:
            if kind == "flat":
                faiss_index = faiss.IndexBinaryFlat(HASH_BITS)
            else:
                faiss_index = faiss.IndexBinaryHNSW(HASH_BITS, hnsw_m)
        if faiss_index.d != HASH_BITS:
            raise IntegrityError(f"index holds {faiss_index.d}-bit codes, expected {HASH_BITS}")
        if kind == "hnsw":
            faiss_index.hnsw.efSearch = ef_search
        self._index = faiss_index

    @classmethod
    def build(cls, codes: np.ndarray, kind: str = "flat", **options) -> "HashIndex":
        index = cls(kind, **options)
        index.add(codes)
        return index

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def add(self, codes: np.ndarray) -> None:
        codes = as_code_matrix(codes)
        if len(codes):
            self._index.add(codes)

    def query(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances, ids), each (n, k); missing neighbours have id -1."""
        codes = as_code_matrix(codes)
        if k < 1:
            raise UsageError("k must be at least 1")
        if self.ntotal == 0 or len(codes) == 0:
            return np.full((len(codes), k), HASH_BITS + 1, np.int32), np.full((len(codes), k), -1, np.int64)
        with _threads_for(len(codes)):
            distances, ids = self._index.search(codes, min(k, self.ntotal))
        return distances.astype(np.int32), ids.astype(np.int64)

    def code_at(self, position: int) -> bytes:
        """The stored code at a position (used to check the cache against SQLite)."""
        return bytes(self._index.reconstruct(int(position)).tobytes())

    def serialize(self, path: str | Path) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        import faiss

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            faiss.write_index_binary(self._index, str(tmp))

    @classmethod
    def deserialize(cls, path: str | Path, kind: str) -> "HashIndex":
        import faiss

        try:
            faiss_index = faiss.read_index_binary(str(path))
        except RuntimeError as exc:
            raise IntegrityError(f"cannot read index {path}: {exc}") from exc
        found = "hnsw" if isinstance(faiss_index, faiss.IndexBinaryHNSW) else "flat"
        if found != kind:
            raise IntegrityError(f"index {path} is {found}, expected {kind}")
        return cls(kind, faiss_index=faiss_index)


@contextmanager
def _threads_for(n_queries: int):
    """One OpenMP thread for a handful of queries. Measured at 10^6 codes on a busy 2-core machine: single
    queries took p99 177 ms with 2 threads (threads spin waiting for a core) and 9 ms with one.

    Safe beside searches in other threads: OpenMP keeps this setting per calling thread
    (tests/provenance/test_faiss_threads.py), unlike torch's process-wide count (dflab/threads.py)."""
    import faiss

    if n_queries > SMALL_BATCH:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def as_code_matrix(codes) -> np.ndarray:
    """(n, 32) uint8, C-contiguous, from an array or a list of 32-byte strings."""
    if isinstance(codes, (list, tuple)):
        if not codes:
            return np.zeros((0, HASH_BYTES), np.uint8)
        codes = np.frombuffer(b"".join(codes), np.uint8).reshape(len(codes), -1)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] != HASH_BYTES:
        raise UsageError(f"codes must be (n, {HASH_BYTES}) bytes, got shape {codes.shape}")
    return codes
