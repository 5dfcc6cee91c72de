"""`dflab sign` as a library call: log the signature in the ledger, then embed manifest + ledger record.

Order matters: the manifest embeds the ledger record, so the record is appended first and carries what is
known before signing (the input's SHA-256 and the hash of the manifest definition minus the ledger assertion).
Everything that can fail on bad input (paths, format, keys) is checked before the ledger is touched, so a
refused command never leaves a record behind. Keys and ledger come from the lab passed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dflab.errors import UsageError
from dflab.provenance import adapters
from dflab.provenance.manifest import (
    _check_paths,
    build_definition,
    check_signable,
    definition_hash,
    media_type_for,
    sha256_file,
    sign_file,
)


def sign_and_record(
    in_path: str | Path,
    out_path: str | Path,
    synthetic: bool,
    parents: Sequence[str | Path] = (),
    payload_hex: str | None = None,
    use_ledger: bool = True,
    overwrite: bool = False,
    *,
    lab=None,
) -> dict:
    """Sign `in_path` to `out_path` with the lab's keys; unless `use_ledger` is False, append a "sign" record to
    the lab's ledger first and embed it.

    payload_hex: the watermark payload the media carries, named in the soft-binding assertion. Without it,
    a watermark found in the input (when the watermark module is installed) is named instead.
    lab: where keys and ledger are (default: the lab of the environment).
    """
    from dflab.provenance.lab import lab_scope

    with lab_scope(lab) as opened:
        return _sign(Path(in_path), Path(out_path), synthetic, parents, payload_hex, use_ledger, overwrite, opened)


def _sign(src: Path, dst: Path, synthetic: bool, parents: Sequence[str | Path], payload_hex: str | None,
          use_ledger: bool, overwrite: bool, lab) -> dict:  # fmt: skip
    _check_paths(src, dst, overwrite)
    check_signable(src)  # media the other commands refuse is neither signed nor logged
    for parent in parents:
        if not Path(parent).is_file():
            from dflab.errors import NotFound

            raise NotFound(f"parent {parent} does not exist")
        media_type_for(Path(parent))
    material = lab.keys.signing_material()  # missing keys: fail before anything is logged
    if payload_hex is not None:
        try:
            bytes.fromhex(payload_hex)
        except ValueError:
            raise UsageError(f"--payload must be hex, got {payload_hex!r}") from None
    else:
        payload_hex = _detected_payload(src)

    ledger_entry = None
    if use_ledger:
        draft = build_definition(src.name, synthetic, None, len(parents), None, payload_hex)
        parent_hashes = [sha256_file(Path(p)) for p in parents]
        parent_ids = sorted({i for h in parent_hashes for i in adapters.ledger_find(h, lab)})
        fields = {
            "action": "sign",
            "content_sha256": sha256_file(src),
            "media_type": media_type_for(src).split("/")[0],
            "path": src.name,
            "watermark_payload": payload_hex.lower() if payload_hex else None,
            # The manifest embeds this record, so the record holds the hash of the manifest definition
            # without the ledger assertion (the signed bytes cannot exist before the record does).
            "manifest_sha256": definition_hash(draft),
            "parents": tuple(parent_ids),
            "extra": {"synthetic": synthetic, "parents_sha256": parent_hashes},
        }
        ledger_entry = adapters.ledger_append(fields, lab)
    summary = sign_file(
        src, dst, synthetic, ingredients=list(parents), ledger_record=ledger_entry,
        soft_binding=payload_hex, overwrite=overwrite, material=material, check_input=False,
    )
    summary["ledger"] = ledger_entry
    summary["soft_binding"] = payload_hex
    return summary


def _detected_payload(src: Path) -> str | None:
    """The watermark payload already in the input, if the watermark module is installed and finds one."""
    if not media_type_for(src).startswith(("image/", "video/")):
        return None
    try:
        result = adapters.watermark_check(src)
    except Exception:  # noqa: BLE001 - an optional enrichment; signing must not depend on the detector
        return None
    return result.get("payload") if result.get("detected") else None


__all__ = ["sign_and_record"]
