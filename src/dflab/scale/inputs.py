"""What `dflab batch` scans: files, directories (walked, media files only) and manifest CSVs, in a stable order."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from dflab.errors import UsageError
from dflab.media.suffixes import MEDIA_SUFFIXES

MANIFEST_PATH_COLUMNS = ("path", "file")


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Every file to scan, each once, in the order given (directories sorted). A named file is kept even if it
    is not a media file or does not exist: scanning it gives its `{path, error}` line."""
    seen: set[str] = set()
    out: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES]
        elif path.suffix.lower() == ".csv" and path.is_file():
            found = manifest_paths(path)
        else:
            found = [item]
        for name in found:
            if name not in seen:
                seen.add(name)
                out.append(name)
    return out


def manifest_paths(csv_path: Path) -> list[str]:
    """The `path` (or `file`) column of a manifest CSV; relative paths are relative to the CSV's folder (the
    convention of ../shared/data/manifests and `dflab eval`)."""
    try:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            column = next((c for c in MANIFEST_PATH_COLUMNS if c in (reader.fieldnames or [])), None)
            if column is None:
                raise UsageError(f"manifest {csv_path} has no 'path' column (columns: {reader.fieldnames})")
            rows = [row[column] for row in reader if row.get(column)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read manifest {csv_path}: {exc}") from None
    return [str(p if p.is_absolute() else csv_path.parent / p) for p in map(Path, rows)]
