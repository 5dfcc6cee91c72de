"""The latest signed checkpoint, kept outside the database: a small text file beside it (a C2SP signed note).

Someone who can rewrite the database (edit a leaf, recompute every node, delete the checkpoints table) can make
the stored tree agree with itself, but cannot re-sign without the key, and does not touch this file when it lives
elsewhere (another disk, a backup, a witness, a git repository it is published to). `Ledger` rewrites the file
after every append batch and every checkpoint; `verify --all` checks the stored tree against it.

The file only ever moves forward: it is replaced (atomically: temp file + rename) only by a checkpoint of at
least the same tree size, under an exclusive lock, so two writers finishing out of order never leave the older
checkpoint in place. This sits above the store on purpose: any backend (SQLite, PostgreSQL, memory) gets it.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

from dflab.atomic import write_text_atomic
from dflab.errors import IntegrityError, UsageError
from dflab.provenance.ledger.note import Checkpoint, parse_checkpoint_text, split_note

SUFFIX = ".checkpoint"
MAX_CHECKPOINT_FILE_BYTES = 1 << 20


def checkpoint_path_for(database_path: str | Path) -> Path:
    """Where the checkpoint of the ledger in this database file is kept: beside it, same stem."""
    path = Path(database_path)
    return path.with_name(path.stem + SUFFIX)


def read_note_file(path: Path) -> str:
    """A signed note from a file, size-checked (not yet verified)."""
    try:
        size = path.stat().st_size
        if size > MAX_CHECKPOINT_FILE_BYTES:
            raise IntegrityError(f"checkpoint file {path} is {size} bytes; a checkpoint is far smaller")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"checkpoint file {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"checkpoint file {path} is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read checkpoint file {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"checkpoint file {path} is not UTF-8 text") from None


def unverified_checkpoint(note: str) -> Checkpoint:
    """The checkpoint body of a signed note, before any signature is checked (to order notes by size)."""
    text, _ = split_note(note)
    return parse_checkpoint_text(text)


class CheckpointFile:
    """The external copy of the ledger's latest signed checkpoint."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"CheckpointFile({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> str | None:
        """The signed note in the file, or None when there is no file."""
        if not self.path.exists():
            return None
        return read_note_file(self.path)

    def publish(self, note: str) -> bool:
        """Replace the file with `note` unless it already holds a larger tree; True when written."""
        size = unverified_checkpoint(note).tree_size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            current = self.read()
            if current is not None:
                try:
                    if unverified_checkpoint(current).tree_size > size:
                        return False
                except IntegrityError:
                    pass  # a damaged file is replaced; the audit compares the database with what we sign now
            write_text_atomic(self.path, note, mode=0o644)
            return True

    @contextmanager
    def _locked(self):
        lock_path = self.path.with_name("." + self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
