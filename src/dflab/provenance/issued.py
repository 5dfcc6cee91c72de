"""The watermark payloads a lab has issued, read from its ledger: the candidates of informed detection.

Disclosure (make/disclose.py) marks every output with the payload of its record id in the payload format it
names (extra.watermark_payload_format; records from before format 2 have none and carry format 1, payload.py),
embedded with the key of its watermark generation (extra.watermark_generation); those "generate" records are
the candidates. The newest
`limit` of them, among the newest MAX_RECORDS_READ records, are tested (a ledger can hold millions of records;
the scoring costs ~0.1 s of CPU per 1,000 candidates). Records
whose JSON does not parse are skipped here: `dflab ledger verify` is where a damaged ledger is reported.
"""

from __future__ import annotations

import json

from dflab.provenance.watermark.informed import MAX_CANDIDATES, Candidate

SCAN_CHUNK = 4096  # records read per query, newest first
MAX_RECORDS_READ = 200_000  # newest records looked through for disclosed outputs (~2 s of JSON at most)


def issued_candidates(ledger, limit: int = MAX_CANDIDATES) -> list[Candidate]:
    """The payloads of the ledger's newest `limit` disclosed outputs, newest first."""
    from dflab.provenance.payload import PAYLOAD_FORMATS, payload_in_format
    from dflab.provenance.watermark.lineage import GENERATION_KEYS

    out: list[Candidate] = []
    end = ledger.store.size()
    oldest = max(0, end - MAX_RECORDS_READ)
    while end > oldest and len(out) < limit:
        start = max(oldest, end - SCAN_CHUNK)
        chunk = list(ledger.store.iter_leaves(start, end))
        for record_id, leaf in reversed(chunk):
            try:
                record = json.loads(leaf)
                generation = int(record["extra"].get("watermark_generation") or 1)
                payload_format = int(record["extra"].get("watermark_payload_format") or 1)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if record.get("action") != "generate" or not 1 <= generation <= len(GENERATION_KEYS):
                continue
            if payload_format not in PAYLOAD_FORMATS:
                continue  # a format this version does not know: its mark can only be read blindly
            payload = payload_in_format(record_id, payload_format)
            out.append(Candidate(payload, GENERATION_KEYS[generation - 1], record_id))
            if len(out) >= limit:
                break
        end = start
    return out


def lab_candidates(lab, limit: int = MAX_CANDIDATES) -> list[Candidate]:
    """issued_candidates of the lab's ledger; none when the lab has no ledger yet (an empty store)."""
    from dflab.errors import NotFound

    try:
        return issued_candidates(lab.ledger(), limit)
    except NotFound:
        return []


def lab_lineage(path, lab, max_frames: int = 90, limits=None):
    """file_lineage of `path` with the lab's issued payloads as the candidates of informed detection (what
    `dflab watermark detect` and `dflab verify` read)."""
    from dflab.provenance.watermark.lineage import file_lineage

    return file_lineage(path, max_frames=max_frames, limits=limits, candidates=lambda: lab_candidates(lab))


__all__ = ["issued_candidates", "lab_candidates", "lab_lineage"]
