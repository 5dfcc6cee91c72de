"""Small helpers shared by the CLI verb modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dflab.errors import UsageError


def print_json(obj) -> None:
    """One JSON object per line on stdout (scripts read it with a line-by-line reader)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def new_output_path(path: str | Path, overwrite: bool = False) -> Path:
    """An output path that must not exist yet (unless overwrite), in a directory that does."""
    out = Path(path)
    if out.exists() and not overwrite:
        raise UsageError(f"output {out} already exists (choose another path)")
    if not out.parent.exists():
        raise UsageError(f"output directory {out.parent} does not exist")
    return out
