"""Writing files all at once: a temporary file beside the target, moved into place with os.replace only
when it is complete, so a crash or an error never leaves a half-written output (or a damaged old one)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dflab.errors import UsageError


def default_file_mode() -> int:
    """The mode a plain open() would give a new file under the current umask (mkstemp alone makes 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_default_mode = default_file_mode


@contextmanager
def atomic_output(path: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yields a temporary path beside `path` (same extension, so writers pick the right format); it
    replaces `path` only if the block finishes. `mode` is set before anything is written (keys)."""
    final = Path(path)
    if not final.parent.is_dir():
        raise UsageError(f"output directory {final.parent} does not exist")
    if final.is_dir():
        raise UsageError(f"output {final} is a directory; give a file name")
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, _default_mode() if mode is None else mode)
        os.close(fd)
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes, mode: int | None = None) -> Path:
    with atomic_output(path, mode) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str, mode: int | None = None) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), mode)
