"""The registry: hash media, record it in the ledger, keep the hashes in SQLite and a FAISS cache.

Layout under $DFLAB_HOME/registry/: registry.sqlite (source of truth) and index-<kind>.faiss (a cache).
The index is brought up to date from SQLite whenever it is opened or written: missing rows are added, and a
cache that disagrees with SQLite (more rows, different codes, wrong kind, unreadable) is rebuilt from scratch.
So nothing registered is ever lost, even if the index file is deleted or a writer dies between the two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dflab.config import Limits, dflab_home
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
# ladder, crops keeping 70-90 % of the area match at distance <= 31 even after JPEG q50 and a 50 % downscale;
# a 10 % ladder misses about a quarter of the in-between crops.
DEFAULT_CROPS = (0.9, 0.85, 0.8, 0.75, 0.7)


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
    return Path(home) if home is not None else dflab_home() / "registry"


class Registry:
    """Open with `open_registry()`; use as a context manager or call close()."""

    def __init__(
        self,
        directory: str | Path | None = None,
        config: RegistryConfig | None = None,
        record_sink: RecordSink | None = None,
        record_source: RecordSource | None = None,
    ) -> None:
        self.config = config or RegistryConfig()
        self.directory = registry_dir(directory)
        self.store = RegistryStore(self.directory / "registry.sqlite")
        self.record_sink = record_sink or ledger_sink()
        self.record_source = record_source or ledger_source()
        self.hasher = create_hasher(self.config.hasher, crops=self.config.crops) if self.config.hasher == "pdq-crops" \
            else create_hasher(self.config.hasher)
        self._index: HashIndex | None = None

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    @property
    def index_path(self) -> Path:
        return self.directory / f"index-{self.config.index_kind}.faiss"

    # ---------------------------------------------------------------- index cache

    def index(self) -> HashIndex:
        """The FAISS index, in step with SQLite."""
        if self._index is None:
            self._index = self._load_index()
        self._index = self._synced(self._index)
        return self._index

    def _load_index(self) -> HashIndex:
        if self.index_path.exists():
            try:
                return HashIndex.deserialize(self.index_path, self.config.index_kind)
            except IntegrityError:
                pass  # unreadable or the wrong kind: rebuilt below from SQLite
        return self.rebuild_index()

    def _synced(self, index: HashIndex) -> HashIndex:
        """`index` caught up with SQLite, or a fresh one when it disagrees (SQLite wins)."""
        count, have = self.store.count_hashes(), index.ntotal
        agrees = have <= count and (have == 0 or index.code_at(have - 1) == self.store.code_at(have - 1))
        if not agrees:
            return self.rebuild_index()
        if have < count:
            index.add(self.store.codes(start=have))
            self._save(index)
        return index

    def rebuild_index(self, save: bool = True) -> HashIndex:
        index = HashIndex.build(self.store.codes(), self.config.index_kind)
        if save:
            self._save(index)
        return index

    def _save(self, index: HashIndex) -> None:
        try:
            index.serialize(self.index_path)
        except OSError:
            pass  # a cache that cannot be written is rebuilt next time; SQLite already holds everything

    # ---------------------------------------------------------------- register

    def register(self, path: str | Path, parents: tuple[int, ...] = ()) -> dict[str, Any]:
        """Hash a file, append its ledger record, index its hashes. Re-registering identical bytes returns the
        existing record (`existing: true`) instead of a second one. Audio files, and the soundtrack of videos,
        also get audio fingerprints (audio_trace.py); a record registered before those existed gets them when
        its bytes are registered again."""
        from dflab.media import probe

        path = Path(path)
        sha256 = sha256_file(path) if path.is_file() else ""
        if sha256:
            for row in self.store.records_by_sha256(sha256):
                if row.hasher == self.hasher.name and row.video_fps == self.config.video_fps:
                    audio_hashes = self._backfill_audio(row, path)
                    return self._register_result(row, self.store.count_hashes(row.record), existing=True,
                                                 audio_hashes=audio_hashes)  # fmt: skip
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
        record_id = int(self.record_sink(fields))
        record = RecordRow(
            record_id, sha256, fields["path"], media_type, self.hasher.name, self.config.video_fps,
            float(extra["duration_s"]), int(media.width) if media else 0, int(media.height) if media else 0,
            len(media.frames) if media else 0, time.time(),
        )
        indexed = [row._replace_record(record_id) for row in rows if self._indexable(media, row)]
        self.store.add(record, indexed)
        if quads is not None:
            register_audio(self.store, record_id, quads, audio_s)
        self.index()  # catch the cache up and persist it
        return self._register_result(record, len(indexed), existing=False,
                                     audio_hashes=len(quads) if quads is not None else 0)  # fmt: skip

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
        return register_audio(self.store, row.record, quads, audio_s) if quads is not None else 0

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
        index = self.index()
        distances, ids = index.query(codes, k)
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
                "directory": str(self.directory), "audio_records": audio_records,
                "audio_hours": round(audio_s / 3600.0, 4), "audio_hashes": audio_hashes}


@dataclass(frozen=True)
class _PendingHash:
    time_s: float
    variant: str
    quality: int
    code: bytes

    def _replace_record(self, record_id: int) -> HashRow:
        return HashRow(record_id, self.time_s, self.variant, self.quality, self.code)


def open_registry(
    directory: str | Path | None = None,
    config: RegistryConfig | None = None,
    record_sink: RecordSink | None = None,
    record_source: RecordSource | None = None,
) -> Registry:
    """The registry under `directory` (default $DFLAB_HOME/registry), appending to the default ledger."""
    return Registry(directory, config, record_sink, record_source)

