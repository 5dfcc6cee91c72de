"""The 64-bit watermark payload that points at a ledger record.

Layout (8 bytes, big-endian):  [ tag: 2 bytes = 0xDF 0x01 ][ ledger record id: 6 bytes, unsigned ]

Why a tag: the watermark decoder can return 64 bits from an unmarked or foreign-marked image; the tag (16 bits)
lets `record_from_payload` refuse payloads that are not ours, on top of the watermark's own error correction.
Version 1 of the tag is 0xDF01; a future layout changes the second byte. Record ids up to 2**48 - 1 fit.
"""

from __future__ import annotations

from dflab.errors import UsageError

PAYLOAD_BYTES = 8
PAYLOAD_TAG = b"\xdf\x01"
MAX_RECORD_ID = (1 << 48) - 1


def payload_for_record(record_id: int) -> bytes:
    """The 8 payload bytes that the watermark embeds for ledger record `record_id`."""
    if isinstance(record_id, bool) or not isinstance(record_id, int):
        raise UsageError(f"ledger record id must be an integer, got {record_id!r}")
    if not 0 <= record_id <= MAX_RECORD_ID:
        raise UsageError(f"ledger record id {record_id} does not fit in 48 bits")
    return PAYLOAD_TAG + record_id.to_bytes(6, "big")


def record_from_payload(payload: bytes | str | None) -> int | None:
    """The ledger record id a payload points to, or None when it is not a dflab v1 payload.

    Accepts raw bytes or hex (as `dflab watermark detect --json` prints it). Never raises on foreign input.
    """
    if payload is None:
        return None
    if isinstance(payload, str):
        try:
            payload = bytes.fromhex(payload.strip().removeprefix("0x"))
        except ValueError:
            return None
    if len(payload) != PAYLOAD_BYTES or payload[:2] != PAYLOAD_TAG:
        return None
    return int.from_bytes(payload[2:], "big")
