"""Thin bridges from sign/verify to the ledger, the watermark and the registry of a lab.

The ledger and registry come from the lab passed in (never looked up here). `dflab verify` must still give an
answer when a section has no data yet, and the watermark bridge reports {"available": False, "reason": ...}
when its package is missing. Errors about the *input file* (BadMedia, Unsupported, ...) still propagate: those
are the user's to see. Errors about the *stored state* (an IntegrityError from a damaged ledger) are reported in
the section rather than hiding the other sections' answers.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from dflab.errors import DflabError, IntegrityError, NotFound


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


def ledger_append(fields: dict, lab) -> dict:
    """Append a record (the ledger's Record fields) to the lab's ledger and return what the manifest embeds:
    the record id, its leaf hash, and the tree size and root of the signed checkpoint that proves it."""
    from dflab.provenance.ledger import Record

    ledger = lab.ledger()
    record_id = int(ledger.append(Record(**fields)))
    out: dict[str, Any] = {"record": record_id, "action": fields.get("action")}
    proof = ledger.prove(record_id)
    for key in ("leaf_hash", "tree_size", "root", "origin"):
        if key in proof:
            out[key] = proof[key]
    return out


def ledger_find(content_sha256: str, lab) -> list[int]:
    """Ids of the lab's ledger records for this exact content (to name signed parents by record id)."""
    return list(lab.ledger().find(content_sha256=content_sha256))


def ledger_check(record_id: int, lab) -> dict:
    """The ledger record `record_id` and its inclusion proof verified against the latest signed checkpoint."""
    try:
        ledger = lab.ledger()
        try:
            entry = ledger.get(record_id)
        except (NotFound, KeyError, IndexError):
            return {"available": True, "record": record_id, "found": False, "verified": False,
                    "error": f"ledger has no record {record_id}"}
        out: dict[str, Any] = {"available": True, "record": record_id, "found": True, "entry": entry.to_json()}
        try:
            proof = ledger.prove(record_id)
            out["proof"] = _as_dict(proof)
            out.update(_verify_proof(ledger, out["proof"]))
        except IntegrityError as exc:
            out.update(verified=False, error=str(exc))
        return out
    except IntegrityError as exc:
        return {"available": True, "record": record_id, "verified": False, "error": str(exc)}


def _verify_proof(ledger, proof: dict) -> dict:
    """Check the inclusion proof against the newest signed checkpoint, offline (no trust in the database)."""
    result = ledger.verify_proof(proof)
    ok = result.get("ok", result.get("verified", True))
    details = {k: v for k, v in result.items() if k not in ("ok", "verified")}
    return {"verified": bool(ok), "checkpoint_checked": True, **details}


# ---------------------------------------------------------------- watermark


def watermark_check(path: Path, lab=None) -> dict:
    """Watermark detection on `path`, with the ledger record its payload points to (see payload.py).

    Media made from dflab media carries one mark per generation (watermark/lineage.py): the newest names this
    file's record, `lineage` lists every mark found, oldest first. With a `lab`, a mark that does not decode
    blindly is tested against the payloads its ledger issued (watermark/informed.py): `method` says which
    found it, `informed` how (None when that test did not run)."""
    from dflab.provenance.payload import record_from_payload

    mod = _import("dflab.provenance.watermark.lineage")
    if mod is None:
        return {"available": False, "detected": None, "payload": None, "confidence": None, "record": None,
                "reason": "watermark module not installed"}
    if lab is not None:
        from dflab.provenance.issued import lab_lineage

        lineage = lab_lineage(path, lab)
    else:
        lineage = mod.file_lineage(path)
    result = lineage.newest
    return {
        "available": True,
        "detected": bool(result.detected),
        "payload": result.payload_hex if result.detected else None,
        "confidence": float(result.confidence),
        "record": record_from_payload(result.payload) if result.detected else None,
        "method": lineage.method,
        "informed": lineage.informed_json(),
        "lineage": lineage.to_json(),
    }


# ---------------------------------------------------------------- registry


def registry_check(path: Path, k: int, lab) -> dict:
    """Registered media that `path` derives from, best first (the lab registry's own trace)."""
    try:
        result = lab.registry().trace(path)
    except NotFound as exc:  # an empty or never-created registry is "no match", not an error
        return {"available": True, "matches": [], "note": str(exc)}
    return {"available": True, "matches": [_as_dict(m) for m in list(result.get("matches") or [])[:k]]}


__all__ = ["ledger_append", "ledger_check", "watermark_check", "registry_check", "DflabError"]
