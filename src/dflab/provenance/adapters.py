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


def ledger_append(record: dict) -> dict | None:
    """Append `record` to the ledger; returns what the manifest embeds (record id, leaf hash, tree size, root).

    None when no ledger package is installed (signing then simply has no ledger assertion).
    """
    ledger = _open_ledger()
    if ledger is None:
        return None
    try:
        record_id = int(ledger.append(record))
        out: dict[str, Any] = {"record": record_id}
        entry = _try(lambda: ledger.get(record_id))
        entry_d = _as_dict(entry) if entry is not None else {}
        for key in ("leaf_hash", "index"):
            if key in entry_d:
                out[key] = entry_d[key]
        proof = _try(lambda: ledger.prove(record_id))
        proof_d = _as_dict(proof) if proof is not None else {}
        for key in ("index", "tree_size", "leaf_hash", "root"):
            if key in proof_d and key not in out:
                out[key] = proof_d[key]
        out["action"] = record.get("action")
        return out
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
        out: dict[str, Any] = {"available": True, "record": record_id, "found": True, "entry": _as_dict(entry)}
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
            return {"verified": bool(result.get("verified", True)), **{k: v for k, v in result.items() if k != "verified"}}
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
    """Watermark detection on `path`, with the ledger record its payload points to (see payload.py)."""
    from dflab.provenance.payload import record_from_payload

    mod = _import("dflab.provenance.watermark")
    detect = getattr(mod, "detect_file", None) if mod else None
    if detect is None:
        return {"available": False, "detected": None, "payload": None, "confidence": None, "record": None,
                "reason": "watermark module not installed"}
    result = detect(path)
    payload = getattr(result, "payload", None)
    if isinstance(payload, (bytes, bytearray)):
        payload = bytes(payload).hex()
    detected = bool(getattr(result, "detected", False))
    confidence = getattr(result, "confidence", None)
    return {
        "available": True,
        "detected": detected,
        "payload": payload if detected else None,
        "confidence": float(confidence) if confidence is not None else None,
        "record": record_from_payload(payload) if detected else None,
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
