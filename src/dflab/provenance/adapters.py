"""Thin, guarded bridges from sign/verify to the ledger, the watermark and the registry.

Those subsystems are separate packages (`provenance/ledger`, `provenance/watermark`, `provenance/registry`).
`dflab verify` must still give an answer when one of them is not installed or has no data yet, so every
bridge here reports {"available": False, "reason": ...} instead of failing when its package is missing.
Errors about the *input file* (BadMedia, Unsupported, ...) still propagate: those are the user's to see.
Errors about the *stored state* (an IntegrityError from a damaged ledger) are reported in the section
rather than hiding the other sections' answers.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from dflab.errors import DflabError, IntegrityError, NotFound

_MISSING = (ImportError, AttributeError)


def _import(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # Only "this subsystem is not there" counts as missing; a broken import inside it is a bug to show.
        if exc.name and (module.startswith(exc.name) or exc.name.startswith(module)):
            return None
        raise


def _hex(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_hex(v) for v in value]
    if isinstance(value, dict):
        return {k: _hex(v) for k, v in value.items()}
    return value


def _as_dict(obj: Any) -> dict:
    """Dataclass, mapping or object with attributes -> plain JSON-able dict (bytes as hex)."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return _hex(dict(obj))
    import dataclasses

    if dataclasses.is_dataclass(obj):
        return _hex(dataclasses.asdict(obj))
    if hasattr(obj, "_asdict"):
        return _hex(obj._asdict())
    return _hex({k: v for k, v in vars(obj).items() if not k.startswith("_")})


# ---------------------------------------------------------------- ledger


def _open_ledger():
    mod = _import("dflab.provenance.ledger")
    opener = getattr(mod, "open_ledger", None) if mod else None
    return opener() if opener else None


def _close(ledger) -> None:
    close = getattr(ledger, "close", None)
    if callable(close):
        close()


def ledger_append(fields: dict) -> dict | None:
    """Append a record (the ledger's Record fields) and return what the manifest embeds.

    The embedded dict names the record id, its leaf hash, and the tree size and root of the signed
    checkpoint that proves it. None when no ledger package is installed (signing then has no ledger assertion).
    """
    mod = _import("dflab.provenance.ledger")
    if mod is None or not hasattr(mod, "open_ledger"):
        return None
    record_cls = getattr(mod, "Record", None)
    record = record_cls(**fields) if record_cls is not None else fields
    ledger = mod.open_ledger()
    try:
        record_id = int(ledger.append(record))
        out: dict[str, Any] = {"record": record_id, "action": fields.get("action")}
        proof = _try(lambda: ledger.prove(record_id))
        if isinstance(proof, dict):
            for key in ("leaf_hash", "tree_size", "root", "origin"):
                if key in proof:
                    out[key] = proof[key]
        return out
    finally:
        _close(ledger)


def ledger_find(content_sha256: str) -> list[int]:
    """Ids of ledger records for this exact content (to name signed parents by record id); [] without a ledger."""
    mod = _import("dflab.provenance.ledger")
    if mod is None or not hasattr(mod, "open_ledger"):
        return []
    ledger = mod.open_ledger()
    try:
        find = getattr(ledger, "find", None)
        return list(find(content_sha256=content_sha256)) if callable(find) else []
    finally:
        _close(ledger)


def _try(fn):
    try:
        return fn()
    except (TypeError, AttributeError, NotImplementedError):
        return None


def ledger_check(record_id: int) -> dict:
    """The ledger record `record_id` and its inclusion proof verified against the latest signed checkpoint."""
    try:
        ledger = _open_ledger()
    except IntegrityError as exc:
        return {"available": True, "record": record_id, "verified": False, "error": str(exc)}
    if ledger is None:
        return {"available": False, "record": record_id, "verified": None, "reason": "ledger module not installed"}
    try:
        try:
            entry = ledger.get(record_id)
        except (NotFound, KeyError, IndexError):
            return {"available": True, "record": record_id, "found": False, "verified": False,
                    "error": f"ledger has no record {record_id}"}
        if entry is None:
            return {"available": True, "record": record_id, "found": False, "verified": False,
                    "error": f"ledger has no record {record_id}"}
        to_json = getattr(entry, "to_json", None)
        out: dict[str, Any] = {
            "available": True, "record": record_id, "found": True,
            "entry": to_json() if callable(to_json) else _as_dict(entry),
        }
        try:
            proof = ledger.prove(record_id)
            out["proof"] = _as_dict(proof)
            out.update(_verify_proof(ledger, out["proof"]))
        except IntegrityError as exc:
            out.update(verified=False, error=str(exc))
        return out
    except IntegrityError as exc:
        return {"available": True, "record": record_id, "verified": False, "error": str(exc)}
    finally:
        _close(ledger)


def _verify_proof(ledger, proof: dict) -> dict:
    """Check the inclusion proof against the newest signed checkpoint, offline (no trust in the database).

    Uses the ledger package's own checkpoint verification when it offers one; otherwise verifies the Merkle
    path against the proof's root with the pure RFC 6962 maths and says the checkpoint was not checked.
    """
    verify = getattr(ledger, "verify_proof", None)
    if callable(verify):
        result = verify(proof)
        if isinstance(result, dict):
            ok = result.get("ok", result.get("verified", True))
            details = {k: v for k, v in result.items() if k not in ("ok", "verified")}
            return {"verified": bool(ok), "checkpoint_checked": True, **details}
        return {"verified": True if result is None else bool(result), "checkpoint_checked": True}
    from dflab.provenance.ledger import merkle

    index = proof.get("index")
    size = proof.get("tree_size")
    leaf, root, path = proof.get("leaf_hash"), proof.get("root"), proof.get("proof")
    if None in (index, size, leaf, root, path):
        return {"verified": False, "error": "the ledger's proof lacks index/tree_size/leaf_hash/root/proof"}
    merkle.verify_inclusion(int(index), int(size), bytes.fromhex(leaf), [bytes.fromhex(h) for h in path], bytes.fromhex(root))
    return {"verified": True, "checkpoint_checked": False}


# ---------------------------------------------------------------- watermark


def watermark_check(path: Path) -> dict:
    """Watermark detection on `path`, with the ledger record its payload points to (see payload.py).

    Media made from dflab media carries one mark per generation (watermark/lineage.py): the newest names this
    file's record, `lineage` lists every mark found, oldest first."""
    from dflab.provenance.payload import record_from_payload

    mod = _import("dflab.provenance.watermark.lineage")
    if mod is None:
        return {"available": False, "detected": None, "payload": None, "confidence": None, "record": None,
                "reason": "watermark module not installed"}
    lineage = mod.file_lineage(path)
    result = lineage.newest
    return {
        "available": True,
        "detected": bool(result.detected),
        "payload": result.payload_hex if result.detected else None,
        "confidence": float(result.confidence),
        "record": record_from_payload(result.payload) if result.detected else None,
        "lineage": lineage.to_json(),
    }


# ---------------------------------------------------------------- registry


def registry_check(path: Path, k: int = 5) -> dict:
    """Registered media that `path` derives from, best first (the registry's own trace function)."""
    mod = _import("dflab.provenance.registry")
    trace = None
    if mod is not None:
        trace = getattr(mod, "trace", None) or getattr(mod, "trace_file", None)
        if trace is None:
            sub = _import("dflab.provenance.registry.trace")
            trace = getattr(sub, "trace", None) or getattr(sub, "trace_file", None) if sub else None
    if trace is None:
        return {"available": False, "matches": [], "reason": "registry module not installed"}
    try:
        result = trace(path)
    except NotFound as exc:  # an empty or never-created registry is "no match", not an error
        return {"available": True, "matches": [], "note": str(exc)}
    matches = result.get("matches") if isinstance(result, dict) else getattr(result, "matches", result)
    return {"available": True, "matches": [_as_dict(m) for m in list(matches or [])[:k]]}


__all__ = ["ledger_append", "ledger_check", "watermark_check", "registry_check", "DflabError"]
