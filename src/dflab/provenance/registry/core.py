"""The registry: hash media, record it in the ledger, keep the hashes in a RegistryStore and a FAISS cache.

A registry works on a RegistryStore (store.py) and a record sink (ledger_link.py). The lab builds both on one
database, so `register` is one transaction: the ledger record and the registry rows commit together or not at
all, and two writers registering the same bytes (threads or processes) end with one record. The store is the
truth; the FAISS index (index.py, under `directory` when there is one) is a cache of it, keyed by the store's hash
ids. The cache is checked against the store when it is loaded (its newest code must be the store's code under
that id) and caught up before every search: missing rows are added, and a cache that disagrees with the store
(more rows, different codes, wrong kind, unreadable, or a row that committed late below the newest id) is
rebuilt from scratch. So nothing registered is ever lost, even if the index file is deleted or a writer dies
between the two.

`open_registry(directory)` still opens a registry of its own under `directory` (registry.sqlite + index files),
appending to the default ledger: two databases, so that form is not atomic. `open_registry()` opens the default
layout (the lab's database) and is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dflab.config import Limits, default_config
from dflab.errors import BadMedia, IntegrityError, Unsupported, UsageError
from dflab.provenance.ledger.record import sha256_file
from dflab.provenance.registry.audio_fingerprint import FINGERPRINT_NAME, Quads
from dflab.provenance.registry.audio_trace import file_quads, register_audio
from dflab.provenance.registry.frames import SampledMedia, sample_media
from dflab.provenance.registry.hashers import PDQ_MATCH_THRESHOLD, create_hasher
from dflab.provenance.registry.index import HashIndex
from dflab.provenance.registry.ledger_link import (
    RecordSink,
    RecordSource,
    ledger_sink,
    ledger_source,
)
from dflab.provenance.registry.store import HashRow, RecordRow, RegistryStore

# Centre crops registered next to the full frame (measurements in the hashers.py docstring): with a 5 % area
# ladder, crops keeping 60-90 % of the area match at distance <= 31 even after JPEG q50 and a 50 % downscale;
# a 10 % ladder misses about a quarter of the in-between crops. The ladder reaches down to 60 % so that a crop
# keeping 64 % of the area (80 % a side) and the inner part of a pasted copy are found too.
DEFAULT_CROPS = (0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6)


@dataclass(frozen=True)
class RegistryConfig:
    hasher: str = "pdq-crops"
    crops: tuple[float, ...] = DEFAULT_CROPS
    video_fps: float = 2.0  # frames hashed per second of video
    video_max_side: int = 512  # video frames are shrunk to this before hashing (PDQ works at 64x64)
    index_kind: str = "flat"  # "flat" (exact) or "hnsw" (approximate, for very large registries)
    match_threshold: int = PDQ_MATCH_THRESHOLD
    min_video_quality: int = 50  # nearly flat video frames (fades, black) hash to noise: not indexed/queried
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.video_fps <= 0 or self.video_fps > 30:
            raise UsageError(f"video hash rate must be in (0, 30] fps, got {self.video_fps}")
        if not 0 <= self.match_threshold <= 256:
            raise UsageError(f"match threshold must be 0..256 bits, got {self.match_threshold}")


def registry_dir(home: str | Path | None = None) -> Path:
    return Path(home) if home is not None else default_config().registry_dir


SAVE_GROWTH_DIVISOR = 100  # the index cache file is rewritten when it has grown by 1 % (see Registry._synced)


class Registry:
    """Open with `open_registry()` or `lab.registry()`; use as a context manager or call close().

    With `store`, the registry works on that store (which it closes only if `owns_store`), keeps its index cache
    under `index_dir` (None: in memory only) and needs a `record_sink`. Without, it opens the SQLite registry under
    `directory` (see the module docstring)."""

    def __init__(
        self,
        directory: str | Path | None = None,
        config: RegistryConfig | None = None,
        record_sink: RecordSink | None = None,
        record_source: RecordSource | None = None,
        *,
        store: RegistryStore | None = None,
        index_dir: str | Path | None = None,
        owns_store: bool = True,
    ) -> None:
        self.config = config or RegistryConfig()
        self._opened = None  # stores this registry opened itself (the default layout), closed with it
        if store is None:
            store, directory, record_sink, record_source = self._open_own(directory, record_sink, record_source)
            owns_store = True
        else:
            directory = index_dir
            if record_sink is None:
                raise UsageError("a registry built on a store needs a record sink (where ledger records go)")
        self.directory = Path(directory) if directory is not None else None
        self.store = store
        self._owns_store = owns_store
        self.record_sink = record_sink
        self.record_source = record_source or (lambda record_id: None)
        self.hasher = create_hasher(self.config.hasher, crops=self.config.crops) if self.config.hasher == "pdq-crops" \
            else create_hasher(self.config.hasher)
        self._index: HashIndex | None = None
        self._unsaved = 0  # rows added to the index since its cache file was last written
        self._index_lock = threading.RLock()  # one registry may serve several threads (the web service)

    def _open_own(self, directory, record_sink, record_source):
        if directory is not None:
            from dflab.provenance.registry.sqlite_store import SQLiteRegistryStore

            directory = Path(directory)
            store = SQLiteRegistryStore(directory / "registry.sqlite")
            return store, directory, record_sink or ledger_sink(), record_source or ledger_source()
        from dflab.provenance.ledger import Ledger
        from dflab.provenance.registry.ledger_link import sink_for, source_for
        from dflab.provenance.stores import open_stores

        config = default_config()
        self._opened = open_stores(config)
        ledger = Ledger(self._opened.ledger, owns_store=False)
        return (self._opened.registry, config.registry_dir, record_sink or sink_for(ledger),
                record_source or source_for(ledger))  # fmt: skip

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()
        elif self._owns_store:
            self.store.close()

    @property
    def index_path(self) -> Path | None:
        return self.directory / f"index-{self.config.index_kind}.faiss" if self.directory is not None else None

    # ---------------------------------------------------------------- index cache

    def index(self) -> HashIndex:
        """The FAISS index, in step with the store."""
        with self._index_lock:
            if self._index is None:
                self._index = self._load_index()
            self._index = self._synced(self._index)
            return self._index

    def _load_index(self) -> HashIndex:
        path = self.index_path
        if path is not None and path.exists():
            try:
                index = HashIndex.deserialize(path, self.config.index_kind)
            except IntegrityError:
                return self.rebuild_index()  # unreadable, the wrong kind or an older format
            if self._agrees(index):
                return index
        return self.rebuild_index()

    def _agrees(self, index: HashIndex) -> bool:
        """A cache file agrees with the store when it holds no more rows and its newest code is the store's."""
        if index.ntotal > self.store.count_hashes():
            return False
        return index.ntotal == 0 or index.last_code() == self.store.code_of(index.max_id)

    def _synced(self, index: HashIndex) -> HashIndex:
        """`index` caught up with the store, or a fresh one when it cannot be (the store wins)."""
        count, have = self.store.count_hashes(), index.ntotal
        if have == count:
            return index
        if have > count:
            return self.rebuild_index()
        ids, codes = self.store.hash_codes(after_id=index.max_id)
        index.add(codes, ids)
        if index.ntotal < count:  # a row below the newest id committed late (concurrent writers): start over
            return self.rebuild_index()
        self._unsaved += len(ids)
        # Rewriting the cache file costs time in proportion to the whole index (about 2 s at 10^7 codes), so it
        # is rewritten once the rows added since the last write reach 1 % of the index. A cache file behind the
        # store is harmless: whoever loads it catches up with the rows after its newest id.
        if self._unsaved * SAVE_GROWTH_DIVISOR >= index.ntotal:
            self._save(index)
        return index

    def rebuild_index(self, save: bool = True) -> HashIndex:
        ids, codes = self.store.hash_codes()
        index = HashIndex.build(codes, self.config.index_kind, ids=ids)
        if save:
            self._save(index)
        return index

    def _save(self, index: HashIndex) -> None:
        self._unsaved = 0
        if self.index_path is None:
            return
        try:
            index.serialize(self.index_path)
        except (OSError, UsageError):
            pass  # a cache that cannot be written is rebuilt next time; the store already holds everything

    # ---------------------------------------------------------------- register

    def register(self, path: str | Path, parents: tuple[int, ...] = (), *, record_id: int | None = None) -> dict[str, Any]:
        """Hash a file, append its ledger record and store its hashes, in one transaction of the store (with the
        ledger when both share a database). Re-registering identical bytes returns the existing record
        (`existing: true`) instead of a second one, also when another writer registers them at the same time.
        Audio files, and the soundtrack of videos, also get audio fingerprints (audio_trace.py); a record
        registered before those existed gets them when its bytes are registered again.
        `record_id`: file the hashes under this existing ledger record instead of appending one (disclosure
        records the output before it exists)."""
        path = Path(path)
        sha256 = sha256_file(path) if path.is_file() else ""
        found = self._registered(sha256)
        if found is not None:
            return self._existing_result(found, path)
        work = self._prepare(path, sha256, parents)
        with self.store.transaction():  # the check and the writes under one write lock
            found = self._registered(work.sha256)
            if found is None:
                new_id = int(record_id) if record_id is not None else int(self.record_sink(work.fields))
                record = work.record_row(new_id)
                self.store.add(record, work.hash_rows(new_id))
                if work.quads is not None:
                    register_audio(self.store, new_id, work.quads, work.audio_s)
        if found is not None:
            return self._existing_result(found, path)
        self.index()  # catch the cache up and persist it
        return self._register_result(record, len(work.indexed), existing=False,
                                     audio_hashes=len(work.quads) if work.quads is not None else 0)  # fmt: skip

    def _registered(self, sha256: str) -> RecordRow | None:
        """The record these bytes were registered as with this hasher and frame rate, if any."""
        if not sha256:
            return None
        for row in self.store.records_by_sha256(sha256):
            if row.hasher == self.hasher.name and row.video_fps == self.config.video_fps:
                return row
        return None

    def _existing_result(self, row: RecordRow, path: Path) -> dict[str, Any]:
        audio_hashes = self._backfill_audio(row, path)
        return self._register_result(row, self.store.count_hashes(row.record), existing=True, audio_hashes=audio_hashes)

    def _prepare(self, path: Path, sha256: str, parents: tuple[int, ...]) -> "_Registration":
        """Everything slow (decoding, hashing, fingerprinting), done before any write."""
        from dflab.media import probe

        facts = probe(path, self.config.limits)
        if facts["type"] == "audio":
            media = None
            quads, audio_s = file_quads(path, self.config.limits)
        else:
            media = sample_media(path, self.config.video_fps, self.config.video_max_side, self.config.limits)
            quads, audio_s = self._soundtrack_quads(path) if facts["has_audio"] else (None, 0.0)
        media_type = "audio" if media is None else media.media_type
        sha256 = sha256 or sha256_file(path)
        rows = self._hash_rows(media) if media is not None else []
        full = [row for row in rows if row.variant == "full"]
        extra: dict[str, Any] = {
            "hasher": "pdq",
            "frame_times_s": [round(row.time_s, 3) for row in full] if media_type == "video" else [],
            "duration_s": round(media.duration_s if media is not None else audio_s, 3),
        }
        if quads is not None:
            extra["audio_fingerprint"] = FINGERPRINT_NAME
            extra["audio_hashes"] = len(quads)
        fields = {
            "content_sha256": sha256,
            "action": "register",
            "media_type": media_type,
            "path": str(path.resolve()),
            "perceptual_hashes": tuple(row.code.hex() for row in full),
            "parents": tuple(int(p) for p in parents),
            "extra": extra,
        }
        facts_row = (media_type, self.hasher.name, self.config.video_fps, float(extra["duration_s"]),
                     int(media.width) if media else 0, int(media.height) if media else 0,
                     len(media.frames) if media else 0)  # fmt: skip
        indexed = [row for row in rows if self._indexable(media, row)]
        return _Registration(sha256, fields, facts_row, indexed, quads, audio_s)

    def _soundtrack_quads(self, path: Path) -> tuple[Quads | None, float]:
        """A video's soundtrack quads, or (None, 0) when it is silent or cannot be decoded (the pictures still
        register)."""
        try:
            return file_quads(path, self.config.limits)
        except (Unsupported, BadMedia):
            return None, 0.0

    def _backfill_audio(self, row: RecordRow, path: Path) -> int:
        """Audio hashes of a record registered before audio fingerprints existed (added now, appended only)."""
        existing = self.store.audio_print(row.record)
        if existing is not None:
            return existing[2]
        if row.media_type not in ("audio", "video"):
            return 0
        quads, audio_s = self._soundtrack_quads(path)
        if quads is None:
            return 0
        try:
            return register_audio(self.store, row.record, quads, audio_s)
        except IntegrityError:  # another writer fingerprinted it meanwhile
            again = self.store.audio_print(row.record)
            if again is None:
                raise
            return again[2]

    def _indexable(self, media: SampledMedia | None, row: "_PendingHash") -> bool:
        return media is not None and (media.media_type == "image" or row.quality >= self.config.min_video_quality)

    def _hash_rows(self, media: SampledMedia) -> list["_PendingHash"]:
        rows = []
        for time_s, rgb in zip(media.times_s, media.frames):
            for code in self.hasher.hash_frame(rgb):
                rows.append(_PendingHash(float(time_s), code.variant, code.quality, code.code))
        return rows

    @staticmethod
    def _register_result(row: RecordRow, hashes: int, existing: bool, audio_hashes: int = 0) -> dict[str, Any]:
        return {
            "record": row.record,
            "path": row.path,
            "media_type": row.media_type,
            "sha256": row.sha256,
            "hashes": hashes,
            "frames": row.frames,
            "duration_s": round(row.duration_s, 3),
            "existing": existing,
            "audio_hashes": audio_hashes,
        }

    # ---------------------------------------------------------------- query

    def search(self, codes: list[bytes], k: int = 64) -> list[list[tuple[int, HashRow]]]:
        """For each query code, up to k (distance, stored hash row) within the match threshold, nearest first."""
        with self._index_lock:  # FAISS must not search an index while another thread adds to it
            distances, ids = self.index().query(codes, k)
        rows = self.store.hash_rows([int(i) for i in ids.ravel() if i >= 0])
        out = []
        for dist_row, id_row in zip(distances, ids):
            hits = [(int(d), rows[int(i)]) for d, i in zip(dist_row, id_row)
                    if i >= 0 and d <= self.config.match_threshold and int(i) in rows]
            out.append(hits)
        return out

    def trace(self, path: str | Path, top: int = 5) -> dict[str, Any]:
        from dflab.provenance.registry.tracing import trace_media

        return trace_media(self, path, top=top)

    def stats(self) -> dict[str, Any]:
        audio_records, audio_s, audio_hashes = self.store.audio_stats()
        return {"records": self.store.count_records(), "hashes": self.store.count_hashes(), "index": self.config.index_kind,
                "directory": str(self.directory) if self.directory is not None else "(in memory)",
                "audio_records": audio_records,
                "audio_hours": round(audio_s / 3600.0, 4), "audio_hashes": audio_hashes}


@dataclass(frozen=True)
class _PendingHash:
    time_s: float
    variant: str
    quality: int
    code: bytes

    def _replace_record(self, record_id: int) -> HashRow:
        return HashRow(record_id, self.time_s, self.variant, self.quality, self.code)


@dataclass(frozen=True)
class _Registration:
    """A file hashed and ready to store once its record id is known."""

    sha256: str
    fields: dict[str, Any]  # the ledger record's fields
    facts: tuple  # media_type, hasher, video_fps, duration_s, width, height, frames
    indexed: list[_PendingHash]
    quads: Quads | None
    audio_s: float

    def record_row(self, record_id: int) -> RecordRow:
        return RecordRow(record_id, self.sha256, self.fields["path"], *self.facts, time.time())

    def hash_rows(self, record_id: int) -> list[HashRow]:
        return [row._replace_record(record_id) for row in self.indexed]


def open_registry(
    directory: str | Path | None = None,
    config: RegistryConfig | None = None,
    record_sink: RecordSink | None = None,
    record_source: RecordSource | None = None,
) -> Registry:
    """The registry of its own under `directory`, appending to the default ledger; without a directory, the
    registry of the default lab (its database, shared with the ledger). Commands use `Lab.registry()`."""
    return Registry(directory, config, record_sink, record_source)

