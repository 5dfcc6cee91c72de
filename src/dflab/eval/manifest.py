"""Evaluation manifests: a CSV with a header holding at least `path,label`.

`label` is `real` or `fake` (any case); `path` is relative to the CSV file (absolute paths are kept as they
are); every other column is kept per row, and a `method` column, if present, groups rows for per-method
figures. Rows whose file does not exist are kept (the runner reports them as errors) so that one missing
file never hides the rest of an evaluation; `missing_files()` lists them up front.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from dflab.errors import NotFound, UsageError

LABELS = {"real": 0, "fake": 1}
MAX_MANIFEST_BYTES = 64 * 1024**2  # a manifest is a list of paths; anything larger is not one


@dataclass(frozen=True)
class ManifestRow:
    line: int  # line number in the CSV (1 = header), for messages a person can act on
    path: str  # as written in the manifest
    file: Path  # resolved against the manifest's folder
    label: int  # 1 = fake, 0 = real
    method: str | None  # value of the `method` column, None when the manifest has none
    extra: dict[str, str] = field(default_factory=dict)  # every other column, by header name

    @property
    def label_name(self) -> str:
        return "fake" if self.label == 1 else "real"


@dataclass(frozen=True)
class Manifest:
    path: Path
    columns: list[str]
    rows: list[ManifestRow]

    @property
    def has_method(self) -> bool:
        return any(row.method is not None for row in self.rows)


def _header_index(header: list[str], source: Path) -> dict[str, int]:
    names = [name.strip() for name in header]
    lowered = [name.lower() for name in names]
    duplicates = sorted({name for name in lowered if lowered.count(name) > 1 and name})
    if duplicates:
        raise UsageError(f"{source}: header repeats column(s) {', '.join(duplicates)}")
    missing = [name for name in ("path", "label") if name not in lowered]
    if missing:
        raise UsageError(
            f"{source}: header must have columns path,label (missing {', '.join(missing)}; found: {','.join(names)})"
        )
    return {name: i for i, name in enumerate(names)}


def _resolve(base: Path, written: str) -> Path:
    candidate = Path(written).expanduser()
    if not candidate.is_absolute():
        candidate = base / candidate
    return Path(os.path.normpath(candidate))


def read_manifest(path: str | Path) -> Manifest:
    """Parse a manifest CSV. Raises NotFound for a missing file and UsageError naming the line for bad content."""
    source = Path(path)
    if not source.is_file():
        raise NotFound(f"manifest {source} does not exist or is not a file")
    if source.stat().st_size > MAX_MANIFEST_BYTES:
        raise UsageError(f"{source}: larger than {MAX_MANIFEST_BYTES // 1024**2} MiB, not a manifest")
    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    base = source.resolve().parent
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise UsageError(f"{source}: empty manifest (expected a header with at least path,label)")
        index = _header_index(header, source)
        lower = {name.lower(): i for name, i in index.items()}
        i_path, i_label, i_method = lower["path"], lower["label"], lower.get("method")
        extra_cols = [(name, i) for name, i in index.items() if i not in (i_path, i_label, i_method) and name]
        rows: list[ManifestRow] = []
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if len(cells) != len(header):
                raise UsageError(f"{source}, line {line}: {len(cells)} fields, the header has {len(header)}")
            written = cells[i_path].strip()
            if not written:
                raise UsageError(f"{source}, line {line}: empty path")
            label_text = cells[i_label].strip().lower()
            if label_text not in LABELS:
                raise UsageError(f"{source}, line {line}: label {cells[i_label]!r} is not 'real' or 'fake'")
            method = cells[i_method].strip() if i_method is not None else None
            rows.append(
                ManifestRow(
                    line=line,
                    path=written,
                    file=_resolve(base, written),
                    label=LABELS[label_text],
                    method=method if method is None or method else "(none)",
                    extra={name: cells[i] for name, i in extra_cols},
                )
            )
    except csv.Error as exc:
        raise UsageError(f"{source}, line {reader.line_num}: malformed CSV ({exc})") from None
    if not rows:
        raise UsageError(f"{source}: no rows after the header")
    return Manifest(path=source, columns=[name.strip() for name in header], rows=rows)


def missing_files(manifest: Manifest) -> list[ManifestRow]:
    """Rows whose file does not exist (or is not a regular file)."""
    return [row for row in manifest.rows if not row.file.is_file()]
