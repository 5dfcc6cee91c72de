"""Disclosure, always on: the only way a generated image or video leaves dflab's maker.

There is no switch to turn it off. Every output gets, in this order:
  1. a ledger record, reserved first: action "generate", parents = ledger records of the source media (sources
     never seen before are registered, so the chain names them) and of the dflab outputs whose marks the render
     carries, extra = model, method, synthetic=true;
  2. the robust invisible watermark whose payload names the record id (payload.py, format 2: the id permuted so
     neighbouring records carry distant marks; extra.watermark_payload_format says which), on the image or on every
     frame of the video (the watermark module's own video path, which copies the audio packets unchanged);
  3. a C2PA manifest (digitalSourceType trainedAlgorithmicMedia, the source media as ingredients, the ledger
     record and the watermark payload as assertions), signed with the local keys (created on first use);
  4. the output's perceptual hashes in the registry, filed under the same record id.
Consent: the records of the consent statements the output rests on (provenance/consent.py; the caller has
verified them) go into the ledger record (extra.consent) and the manifest (assertion org.dflab.consent); an
output made without any says "not recorded" in both, so the absence is stated rather than silent.
Why this order: the watermark and the manifest both name the record, so the record must exist before either;
the watermark changes the pixels, so it goes before the signature (which hashes the final bytes) and before the
perceptual hashes (taken from exactly what is published). The record cannot hold the hash of bytes that
contain its own id, so its content_sha256 is that of the unmarked render (extra.content_hash_of says so), and
the registry ties the published bytes to the record. All three sources (manifest, watermark, registry) then
name one record, which `dflab verify` reports as consistent.
Media made from dflab media (a swap of a disclosed video, a crop of a generated face) already carries our mark:
the render is read first, the marks it carries are noted in the new record (extra.inherited_watermarks) and
the records they name become its parents where this ledger wrote them (so `dflab ledger show` walks the chain
back), and the new mark goes on with the next generation's key (provenance/watermark/lineage.py), so the old mark and the new one both stay readable and the
newest names this output.
Everything that can fail on bad input (paths, formats, sizes, keys) is checked before the ledger is touched;
intermediate files live beside the output under hidden temporary names and are always removed.
Ledger, registry and keys are the lab's (`lab=`; default: the lab of the environment).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dflab.errors import NotFound, Unsupported, UsageError
from dflab.media.suffixes import PICTURE_OUTPUTS, SIGNABLE_VIDEO_OUTPUTS

MIN_SIDE = 112  # the watermark's minimum (provenance/watermark/embed.py MIN_EMBED_SHORT_SIDE)
DISCLOSURE_VERSION = 1


def _check_output(out: Path, suffixes: tuple[str, ...]) -> None:
    if out.exists():
        raise UsageError(f"output {out} already exists (choose another path)")
    if not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist")
    if out.suffix.lower() not in suffixes:
        raise UsageError(f"{out.name}: output must end in one of {', '.join(suffixes)}")


def ensure_keys(lab) -> None:
    """Create the lab's signing keys on first use (and say so), so disclosure can never be skipped."""
    try:
        lab.keys.signing_material()
    except NotFound:
        lab.keys.init()
        print(f"dflab: created signing keys in {lab.keys.location} (first disclosed output)", file=sys.stderr)


def _temp_beside(out: Path, tag: str) -> Path:
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.{tag}.", suffix=out.suffix)
    os.close(fd)
    return Path(name)


def source_records(sources: Sequence[str | Path], lab) -> list[int]:
    """Ledger ids of the source files: an existing record with the same bytes, else a new registration."""
    from dflab.provenance.ledger.record import sha256_file

    ids: list[int] = []
    for src in sources:
        path = Path(src)
        if not path.is_file():
            continue  # a source that is gone (e.g. a deleted training video) is named in extra only
        found = lab.ledger().find(content_sha256=sha256_file(path))
        ids.append(int(found[0]) if found else int(lab.registry().register(path)["record"]))
    return sorted(set(ids))


def inherited_records(inherited, lab) -> list[int]:
    """The records named by the marks the render already carries, where this lab's ledger wrote them: a record
    id means something only in the ledger that wrote it, so a mark links as a parent only when this ledger holds
    that id as a dflab output ("generate") marked at the generation the mark was read at. Oldest first."""
    ledger = lab.ledger()
    linked = []
    for mark in inherited.to_json():
        record_id = mark["record"]
        if record_id is None:
            continue
        try:
            record = ledger.get(record_id)
        except NotFound:
            continue  # another ledger's record: noted in extra.inherited_watermarks only
        if record.action == "generate" and record.extra.get("watermark_generation") == mark["generation"]:
            linked.append(int(record_id))
    return linked


def _disclose_file(render: Path, out: Path, media_type: str, sources: Sequence[str | Path], model: str, method: str,
                   extra: dict[str, Any] | None, lab, consent: list[dict] | None = None) -> dict:  # fmt: skip
    """Steps 1-4 for a rendered file (unmarked, no manifest) that becomes `out`."""
    from dflab.provenance import adapters
    from dflab.provenance.consent import ledger_consent
    from dflab.provenance.ledger.record import sha256_file
    from dflab.provenance.manifest import media_type_for, sign_file
    from dflab.provenance.payload import CURRENT_PAYLOAD_FORMAT, payload_in_format
    from dflab.provenance.watermark import EmbedConfig, embed_file
    from dflab.provenance.watermark.lineage import GENERATION_KEYS, file_lineage

    ensure_keys(lab)
    ingredients = [Path(s) for s in sources if Path(s).is_file()]
    for ingredient in ingredients:
        media_type_for(ingredient)  # an unsignable ingredient fails here, before the ledger is touched
    inherited = file_lineage(render)
    generation = inherited.next_generation()  # refuses a fourth generation before the ledger is touched
    from_marks = inherited_records(inherited, lab)
    parents = sorted(set(source_records(ingredients, lab)) | set(from_marks))
    fields = {
        "action": "generate", "content_sha256": sha256_file(render), "media_type": media_type, "path": out.name,
        "parents": tuple(parents),
        "extra": {"synthetic": True, "model": model, "method": method, "disclosure": DISCLOSURE_VERSION,
                  "content_hash_of": "the render before watermark and manifest",
                  "watermark_generation": generation,
                  # how the record id became the payload (payload.py); informed detection rebuilds it from this
                  "watermark_payload_format": CURRENT_PAYLOAD_FORMAT,
                  # every mark read, including those of other ledgers (linked: also among the parents)
                  "inherited_watermarks": [{**mark, "linked": mark["record"] in from_marks}
                                           for mark in inherited.to_json()], **(extra or {}),
                  "consent": ledger_consent(consent)},
    }  # fmt: skip
    entry = adapters.ledger_append(fields, lab)
    record = int(entry["record"])
    payload = payload_in_format(record, CURRENT_PAYLOAD_FORMAT)
    marked = _temp_beside(out, "marked")
    try:
        marked.unlink()
        embed_file(render, marked, payload, EmbedConfig(key=GENERATION_KEYS[generation - 1]))
        signed = sign_file(marked, out, synthetic=True, ingredients=ingredients, ledger_record=entry,
                           soft_binding=payload.hex(), material=lab.keys.signing_material(),
                           consent=ledger_consent(consent))  # fmt: skip
    finally:
        marked.unlink(missing_ok=True)
    registered = lab.registry().register(out, parents=tuple(parents), record_id=record)
    return {
        "output": str(out), "record": record, "payload": payload.hex(), "parents": parents,
        "watermark_generation": generation,
        "ingredients": [str(p) for p in ingredients], "manifest_sha256": signed["manifest_sha256"],
        "registry_hashes": registered["hashes"], "synthetic": True,
        "consent": ledger_consent(consent)["status"],
    }  # fmt: skip


def disclose_image(rgb: np.ndarray, out: str | Path, *, sources: Sequence[str | Path] = (), model: str = "",
                   method: str = "", extra: dict[str, Any] | None = None, lab=None,
                   consent: list[dict] | None = None) -> dict:  # fmt: skip
    """Write a generated RGB image to `out` (PNG/JPEG/WebP) with all four disclosures; returns a summary.
    `consent`: records of verified consent statements (consent.require_consent), None for "not recorded"."""
    from dflab.provenance.lab import lab_scope
    from dflab.media import write_image

    out = Path(out)
    _check_output(out, tuple(PICTURE_OUTPUTS))
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise UsageError("a generated image must be an HxWx3 uint8 RGB array")
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise Unsupported(f"a {rgb.shape[1]}x{rgb.shape[0]} image is too small to carry the watermark (min side {MIN_SIDE})")
    render = _temp_beside(out, "render")
    try:
        write_image(render, rgb, quality=98)
        with lab_scope(lab) as opened:
            return _disclose_file(render, out, "image", sources, model, method, extra, opened, consent)
    finally:
        render.unlink(missing_ok=True)


def disclose_video(render: str | Path, out: str | Path, *, sources: Sequence[str | Path] = (), model: str = "",
                   method: str = "", extra: dict[str, Any] | None = None, lab=None,
                   consent: list[dict] | None = None) -> dict:  # fmt: skip
    """Turn a rendered (unmarked) H.264 file into the disclosed video `out`; the render is left to the caller."""
    from dflab.provenance.lab import lab_scope

    out = Path(out)
    _check_output(out, SIGNABLE_VIDEO_OUTPUTS)
    if Path(out).suffix.lower() != Path(render).suffix.lower():
        raise UsageError("the render and the output must be the same container format")
    with lab_scope(lab) as opened:
        return _disclose_file(Path(render), out, "video", sources, model, method, extra, opened, consent)
