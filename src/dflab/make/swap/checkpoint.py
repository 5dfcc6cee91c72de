"""Swap model checkpoints: one torch file plus a JSON sidecar holding its SHA-256.

MODEL/checkpoint.pt    {"format", "config", "train", "iteration", "model", "optimizer", "rng", "history",
                        "names", "sources"}; loaded with weights_only=True (no pickled code runs on load)
MODEL/checkpoint.json  format, iteration, size, names and the SHA-256 of checkpoint.pt
Both are written to temporary files and moved into place (checkpoint first, sidecar last), so an interrupted
save leaves the previous pair intact or a pair whose hash check fails: never a silently half-read model.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from dflab.atomic import write_bytes_atomic
from dflab.errors import IntegrityError, NotFound, UsageError

FORMAT = "dflab-swap-v1"
CKPT_NAME, META_NAME = "checkpoint.pt", "checkpoint.json"


def save_checkpoint(model_dir: Path, state: dict[str, Any], fmt: str = FORMAT) -> Path:
    import torch

    buffer = io.BytesIO()
    torch.save({"format": fmt, **state}, buffer)
    data = buffer.getvalue()
    model_dir.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(model_dir / CKPT_NAME, data)
    meta = {
        "format": fmt, "iteration": int(state.get("iteration", 0)), "config": state.get("config"),
        "names": state.get("names"), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
    }  # fmt: skip
    write_bytes_atomic(model_dir / META_NAME, json.dumps(meta, indent=1).encode())
    return model_dir / CKPT_NAME


def load_checkpoint(model_dir: str | Path, fmt: str = FORMAT, map_location: str = "cpu") -> dict[str, Any]:
    """The checkpoint dict; NotFound for a missing model, IntegrityError for a damaged or foreign one."""
    import torch

    root = Path(model_dir)
    if not root.exists():
        raise NotFound(f"model {root} does not exist")
    ckpt = root / CKPT_NAME if root.is_dir() else root
    meta_path = ckpt.with_name(META_NAME)
    if not ckpt.is_file():
        raise UsageError(f"{root} is not a model directory (no {CKPT_NAME})")
    data = ckpt.read_bytes()
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            raise IntegrityError(f"{meta_path} is damaged (not JSON)") from None
        if meta.get("sha256") != hashlib.sha256(data).hexdigest():
            raise IntegrityError(f"checkpoint {ckpt} is corrupt: its SHA-256 does not match {META_NAME}")
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged zip/pickle
        raise IntegrityError(f"checkpoint {ckpt} is corrupt or not a dflab model ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise IntegrityError(f"{ckpt} is not a {fmt} checkpoint (format {found!r})")
    return state
