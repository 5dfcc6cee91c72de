"""The lab: every store, the keys and the blob directory of one dflab installation, built once from configuration
and passed to everything that signs, discloses, registers, traces or verifies (HMA's `create_app(stores)`).
Import it as `dflab.lab.Lab` (dflab/lab.py); it is defined here, beside the stores it builds, so that provenance
code can open the default lab without importing upwards.

    with Lab.default() as lab:              # $DFLAB_HOME: SQLite database, keys/, registry/ index caches
        dflab.register("photo.jpg", lab=lab)
    lab = Lab.memory()                      # all in memory, for tests

    lab.ledger_store, lab.registry_store    # the two stores, on one database (lab.database)
    lab.keys                                # C2PA signing material and the ledger's checkpoint key (a KeySet)
    lab.blob_dir                            # files that are not rows (the registry's FAISS caches); None in memory
    lab.ledger(), lab.registry()            # the ledger and registry objects over those stores
    with lab.transaction(): ...             # writes to both stores commit together

Only dflab.config reads DFLAB_HOME (LabConfig.from_env); `Lab.default()` is how everything else gets there.
`LabConfig.database_url` may name a PostgreSQL database (see docs/stores.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dflab.config import LabConfig

if TYPE_CHECKING:
    from dflab.provenance.keys import KeySet
    from dflab.provenance.ledger import Ledger
    from dflab.provenance.registry import Registry, RegistryConfig
    from dflab.provenance.stores import ProvenanceStores


class Lab:
    """Stores, keys and blobs of one lab. Close it (or use `with`) to close its database connections."""

    def __init__(self, stores: ProvenanceStores, keys: KeySet, blob_dir: str | Path | None, *,
                 config: LabConfig | None = None, origin: str | None = None,
                 registry_config: RegistryConfig | None = None) -> None:  # fmt: skip
        from dflab.provenance.ledger.signing import DEFAULT_ORIGIN

        self.stores = stores
        self.keys = keys
        self.blob_dir = Path(blob_dir) if blob_dir is not None else None
        self.config = config
        self.origin = origin or DEFAULT_ORIGIN
        self.registry_config = registry_config
        self._ledger: Ledger | None = None
        self._registry: Registry | None = None
        self._lock = threading.Lock()

    # --- construction ------------------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: LabConfig, *, registry_config: RegistryConfig | None = None) -> Lab:
        """SQLite under `config.home` by default; `config.database_url` names another database."""
        from dflab.provenance.keys import FileKeySet
        from dflab.provenance.stores import open_stores

        stores = open_stores(config)
        return cls(stores, FileKeySet(config.keys_dir), config.blob_dir, config=config, registry_config=registry_config)

    @classmethod
    def default(cls) -> Lab:
        """The lab of the environment (DFLAB_HOME, DFLAB_DATABASE_URL): what every `dflab` command uses."""
        return cls.from_config(LabConfig.from_env())

    @classmethod
    def memory(cls, *, hash_ids: Iterator[int] | None = None, registry_config: RegistryConfig | None = None) -> Lab:
        """Every store in memory, keys generated in memory (call `lab.keys.init()` before signing), no blobs on
        disk. `hash_ids`: the registry's id sequence (e.g. itertools.count(1000, 7) to act like PostgreSQL)."""
        from dflab.provenance.keys import MemoryKeySet
        from dflab.provenance.stores import open_memory_stores

        return cls(open_memory_stores(hash_ids), MemoryKeySet(), None, registry_config=registry_config)

    # --- what the lab holds ------------------------------------------------------------------------------

    @property
    def database(self):
        return self.stores.database

    @property
    def ledger_store(self):
        return self.stores.ledger

    @property
    def registry_store(self):
        return self.stores.registry

    @property
    def registry_dir(self) -> Path | None:
        """Where the registry's index caches live (None: kept in memory)."""
        return self.blob_dir / "registry" if self.blob_dir is not None else None

    @property
    def checkpoint_path(self) -> Path | None:
        """Where the ledger's latest signed checkpoint is kept outside the database: beside the SQLite file, or
        in the home for a database server (None in memory)."""
        if self.config is None:
            return None
        from urllib.parse import urlparse

        from dflab.provenance.ledger.checkpoint_file import checkpoint_path_for

        url = self.config.database_url
        if url is None:
            return checkpoint_path_for(self.config.database_path)
        parsed = urlparse(url)
        if parsed.scheme.lower() == "sqlite" and parsed.path not in ("", "/"):
            return checkpoint_path_for(Path(parsed.path))
        return self.config.home / "ledger.checkpoint"

    @property
    def witness_dir(self) -> Path | None:
        """Where this lab's witness keeps its key and the last checkpoint it cosigned for each log."""
        return self.config.home / "witness" if self.config is not None else None

    def transaction(self):
        """Writes to the ledger and the registry inside commit together or not at all."""
        return self.stores.transaction()

    def ledger(self) -> Ledger:
        """The ledger over this lab's ledger store, checkpoints signed with this lab's key."""
        from dflab.provenance.ledger import Ledger

        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger(self.ledger_store, origin=self.origin, keys=self.keys, owns_store=False,
                                      checkpoint_file=self.checkpoint_path)  # fmt: skip
            return self._ledger

    def registry(self) -> Registry:
        """The registry over this lab's registry store, appending its records to this lab's ledger (one
        transaction). One object per lab, so its FAISS index is loaded once; safe to share between threads."""
        from dflab.provenance.registry import Registry
        from dflab.provenance.registry.ledger_link import sink_for, source_for

        ledger = self.ledger()
        with self._lock:
            if self._registry is None:
                self._registry = Registry(config=self.registry_config, store=self.registry_store,
                                          index_dir=self.registry_dir, record_sink=sink_for(ledger),
                                          record_source=source_for(ledger), owns_store=False)  # fmt: skip
            return self._registry

    # --- lifetime ----------------------------------------------------------------------------------------

    def close(self) -> None:
        self.stores.close()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.config.home if self.config is not None else "memory"
        return f"Lab({where}, database={type(self.database).__name__}, keys={self.keys.location})"


@contextmanager
def lab_scope(lab: Lab | None) -> Iterator[Lab]:
    """`lab` itself (left open), or the default lab for the length of the block (closed after)."""
    if lab is not None:
        yield lab
        return
    with Lab.default() as fresh:
        yield fresh


__all__ = ["Lab", "LabConfig", "lab_scope"]
