"""Small helpers shared by the CLI verb modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dflab.errors import DflabError, PartialMedia, UsageError


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
    if out.is_dir():
        raise UsageError(f"output {out} is a directory; give a file name")  # even with overwrite: never replaced
    if out.exists() and not overwrite:
        raise UsageError(f"output {out} already exists (choose another path)")
    if not out.parent.exists():
        raise UsageError(f"output directory {out.parent} does not exist")
    return out


def error_text(exc: DflabError, args=None) -> str:
    """The one line printed for an error; names --allow-partial where the command has it and it was not given."""
    text = str(exc)
    if isinstance(exc, PartialMedia) and getattr(args, "allow_partial", True) is False:
        text += " (--allow-partial uses what decodes)"
    return text


def lab_for(args):
    """The lab of the environment, whose registry reads partial media when the command got --allow-partial."""
    from dflab.lab import Lab

    if not getattr(args, "allow_partial", False):
        return Lab.default()
    from dflab.config import LabConfig, Limits
    from dflab.provenance.registry import RegistryConfig

    return Lab.from_config(LabConfig.from_env(), registry_config=RegistryConfig(limits=Limits(allow_partial=True)))
