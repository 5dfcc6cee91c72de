"""Perceptual-hash registry: register media (ledger record + PDQ hashes in SQLite and FAISS), trace copies back.

    with open_registry() as registry:
        registry.register("photo.jpg")          # {"record": 7, "hashes": 6, ...}
        registry.trace("copy.jpg")["matches"]   # best first, each with record, path, distance, ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dflab.provenance.registry.align import FramePair, Segment, TimeMapping, fit_time_mapping
from dflab.provenance.registry.core import DEFAULT_CROPS, Registry, RegistryConfig, open_registry
from dflab.provenance.registry.hashers import (
    PDQ_MATCH_THRESHOLD,
    FrameCode,
    Hasher,
    create_hasher,
    hamming,
    list_hashers,
    pdq_code,
)
from dflab.provenance.registry.index import HashIndex


def register(path: str | Path, directory: str | Path | None = None) -> dict[str, Any]:
    """Register one file in the default registry and ledger."""
    with open_registry(directory) as registry:
        return registry.register(path)


def trace(path: str | Path, top: int = 5, directory: str | Path | None = None) -> dict[str, Any]:
    """Trace one file against the default registry; `matches` is empty when nothing was registered."""
    with open_registry(directory) as registry:
        return registry.trace(path, top=top)


__all__ = [
    "DEFAULT_CROPS",
    "PDQ_MATCH_THRESHOLD",
    "FrameCode",
    "FramePair",
    "HashIndex",
    "Hasher",
    "Registry",
    "RegistryConfig",
    "Segment",
    "TimeMapping",
    "create_hasher",
    "fit_time_mapping",
    "hamming",
    "list_hashers",
    "open_registry",
    "pdq_code",
    "register",
    "trace",
]
