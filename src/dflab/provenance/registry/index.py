"""FAISS binary index over 256-bit codes, with `build / add / query / serialize`.

The codes sit behind an id map (faiss.IndexBinaryIDMap): every code is added with the id its row has in the
registry store, and queries answer with those ids. Nothing assumes the ids are dense or start at 0 (a
PostgreSQL sequence has gaps). Ids are added in ascending order, so the newest code sits at the last position
and the largest id names it; the registry uses that to check a cache file against the store.
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
    """A FAISS IndexBinary holding codes under their store ids, in ascending id order."""

    def __init__(self, kind: str = "flat", hnsw_m: int = 16, ef_search: int = 64, faiss_index=None) -> None:
        import faiss

        if kind not in INDEX_KINDS:
            raise UsageError(f"unknown index kind {kind!r}; known: {', '.join(INDEX_KINDS)}")
        self.kind = kind
        if faiss_index is None:
            inner = faiss.IndexBinaryFlat(HASH_BITS) if kind == "flat" else faiss.IndexBinaryHNSW(HASH_BITS, hnsw_m)
            faiss_index = faiss.IndexBinaryIDMap(inner)
        else:
            inner = faiss.downcast_IndexBinary(faiss_index.index)
        if faiss_index.d != HASH_BITS:
            raise IntegrityError(f"index holds {faiss_index.d}-bit codes, expected {HASH_BITS}")
        self._inner = inner  # kept referenced: the id map does not own it on the Python side
        self._index = faiss_index
        if kind == "hnsw":
            inner.hnsw.efSearch = ef_search
        n = int(faiss_index.ntotal)
        self._max_id = int(faiss_index.id_map.at(n - 1)) if n else -1

    @classmethod
    def build(cls, codes: np.ndarray, kind: str = "flat", ids: np.ndarray | None = None, **options) -> "HashIndex":
        index = cls(kind, **options)
        index.add(codes, ids)
        return index

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def max_id(self) -> int:
        """The largest id held (-1 when empty)."""
        return self._max_id

    def add(self, codes: np.ndarray, ids: np.ndarray | None = None) -> None:
        """Add codes under `ids` (ascending, all above max_id); without ids, under the next integers.
        One FAISS call: adding in pieces regrows its arrays and leaves the process larger (measured at 10^6)."""
        codes = as_code_matrix(codes)
        if not len(codes):
            return
        if ids is None:
            ids = np.arange(self._max_id + 1, self._max_id + 1 + len(codes), dtype=np.int64)
        else:
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            if len(ids) != len(codes):
                raise UsageError(f"{len(codes)} codes but {len(ids)} ids")
            if ids[0] <= self._max_id or not np.all(ids[1:] > ids[:-1]):
                raise UsageError("index ids must be added in ascending order, above the ones already held")
        self._index.add_with_ids(codes, ids)
        self._max_id = int(ids[-1])

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
        """The stored code at a position (insertion order)."""
        return bytes(self._inner.reconstruct(int(position)).tobytes())

    def last_code(self) -> bytes | None:
        """The code held under max_id (the newest one), None when empty."""
        return self.code_at(self.ntotal - 1) if self.ntotal else None

    def set_ef_search(self, ef_search: int) -> None:
        """HNSW only: how many candidates a query explores (recall against speed)."""
        if self.kind != "hnsw":
            raise UsageError("ef_search applies to hnsw indexes only")
        self._inner.hnsw.efSearch = int(ef_search)

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
        if not isinstance(faiss_index, faiss.IndexBinaryIDMap):
            raise IntegrityError(f"index {path} has no id map (written by an older dflab); it is rebuilt")
        found = "hnsw" if isinstance(faiss.downcast_IndexBinary(faiss_index.index), faiss.IndexBinaryHNSW) else "flat"
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
