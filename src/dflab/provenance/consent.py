"""Consent statements: a person's signed "yes, my face may be used for this, until then".

The maker (`dflab swap train/convert --consent FILE`) refuses a statement that does not verify, and records
each one it used (its SHA-256, who signed it, who it is about, the use and the end date) in the output's C2PA
manifest (assertion CONSENT_LABEL) and in its ledger record; an output made without one says
"consent: not recorded" in both, and `dflab verify` shows which.

The statement is a small JSON document (format CONSENT_FORMAT):

    {
      "format": "dflab-consent-1",
      "subject": "Jane Doe",                    # whose face
      "use": "face swap for the short film X",  # what it may be used for
      "valid_from": "2026-12-06",               # first day the consent holds (ISO date)
      "valid_until": "2027-12-31",              # last day the consent holds (ISO date)
      "created": "2026-12-06T06:40:00Z",
      "public_key": "<64 hex digits>",          # the signer's raw Ed25519 public key
      "signature": "<128 hex digits>"           # Ed25519 over the canonical JSON of every other field
    }

Canonical JSON: keys sorted, no spaces, UTF-8 (json.dumps(..., sort_keys=True, separators=(",", ":"))). The
signer is named by the first 16 hex digits of the SHA-256 of the public key (its fingerprint). Who owns the
key is outside this format: a verifier that knows the person's public key compares fingerprints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from dflab.errors import IntegrityError, NotFound, UsageError

CONSENT_FORMAT = "dflab-consent-1"
CONSENT_LABEL = "org.dflab.consent"
NOT_RECORDED = "not recorded"
MAX_STATEMENT_BYTES = 64 * 1024
_FIELDS = ("format", "subject", "use", "valid_from", "valid_until", "created", "public_key")


def generate_key() -> bytes:
    """A new Ed25519 private key as unencrypted PKCS#8 PEM (keep it private; the person who consents holds it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _private_key(pem: bytes):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError("a consent statement is signed with an Ed25519 key")
    return key


def canonical(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def fingerprint(public_key_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def _iso_date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise UsageError(f"{name} must be an ISO date (YYYY-MM-DD), got {text!r}") from None


def create_statement(subject: str, use: str, valid_until: str, private_key_pem: bytes,
                     valid_from: str | None = None, now: dt.datetime | None = None) -> dict:  # fmt: skip
    """A signed consent statement (the dict to write as JSON)."""
    from cryptography.hazmat.primitives import serialization

    now = now or dt.datetime.now(dt.timezone.utc)
    subject, use = str(subject).strip(), str(use).strip()
    if not subject or not use:
        raise UsageError("a consent statement needs a subject (whose face) and a use (what for)")
    start = _iso_date(valid_from, "valid from") if valid_from else now.date()
    end = _iso_date(valid_until, "valid until")
    if end < start:
        raise UsageError(f"consent would end ({end}) before it starts ({start})")
    key = _private_key(private_key_pem)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    fields = {"format": CONSENT_FORMAT, "subject": subject, "use": use, "valid_from": start.isoformat(),
              "valid_until": end.isoformat(), "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "public_key": public}  # fmt: skip
    return {**fields, "signature": key.sign(canonical(fields)).hex()}


@dataclass(frozen=True)
class ConsentCheck:
    """The outcome of checking one statement. `valid` only when the signature verifies and `today` lies within
    valid_from..valid_until; `problems` says why not."""

    sha256: str
    subject: str | None
    use: str | None
    valid_from: str | None
    valid_until: str | None
    signer: str | None  # fingerprint of the public key
    signature_ok: bool
    problems: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return not self.problems

    def record(self) -> dict:
        """What goes into the manifest assertion and the ledger record for a statement that was used."""
        return {"sha256": self.sha256, "signer": self.signer, "subject": self.subject, "use": self.use,
                "valid_from": self.valid_from, "valid_until": self.valid_until}  # fmt: skip

    def to_json(self) -> dict:
        return {**self.record(), "signature_ok": self.signature_ok, "valid": self.valid, "problems": list(self.problems)}


def check_statement(raw: bytes, today: dt.date | None = None) -> ConsentCheck:
    """Check the bytes of a consent statement (see the module docstring); never raises on a bad statement."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    today = today or dt.datetime.now(dt.timezone.utc).date()
    sha = hashlib.sha256(raw).hexdigest()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ConsentCheck(sha, None, None, None, None, None, False, ("not a JSON consent statement",))
    if not isinstance(doc, dict):
        return ConsentCheck(sha, None, None, None, None, None, False, ("not a JSON consent statement",))
    problems: list[str] = []
    missing = [f for f in (*_FIELDS, "signature") if not isinstance(doc.get(f), str) or not doc.get(f)]
    if missing:
        problems.append(f"missing fields: {', '.join(missing)}")
    if doc.get("format") not in (None, CONSENT_FORMAT):
        problems.append(f"unknown format {doc.get('format')!r} (expected {CONSENT_FORMAT})")
    signer, signature_ok = None, False
    try:
        public = bytes.fromhex(str(doc.get("public_key", "")))
        signature = bytes.fromhex(str(doc.get("signature", "")))
        if len(public) == 32 and len(signature) == 64:
            signer = fingerprint(public.hex())
            Ed25519PublicKey.from_public_bytes(public).verify(signature, canonical({f: doc.get(f) for f in _FIELDS}))
            signature_ok = True
    except (ValueError, InvalidSignature):
        pass
    if not signature_ok:
        problems.append("the signature does not verify (altered, or not signed by this key)")
    try:
        start, end = dt.date.fromisoformat(str(doc.get("valid_from"))), dt.date.fromisoformat(str(doc.get("valid_until")))
        if today < start:
            problems.append(f"consent starts on {start}, after today ({today})")
        if today > end:
            problems.append(f"consent expired on {end}")
    except ValueError:
        problems.append("valid_from / valid_until are not ISO dates")
    text = lambda key: doc.get(key) if isinstance(doc.get(key), str) else None  # noqa: E731
    return ConsentCheck(sha, text("subject"), text("use"), text("valid_from"), text("valid_until"), signer,
                        signature_ok, tuple(problems))  # fmt: skip


def read_statement(path: str | Path, today: dt.date | None = None) -> ConsentCheck:
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"consent statement {path} does not exist")
    if path.stat().st_size > MAX_STATEMENT_BYTES:
        raise UsageError(f"{path} is too large to be a consent statement (over {MAX_STATEMENT_BYTES} bytes)")
    return check_statement(path.read_bytes(), today)


def require_consent(paths, today: dt.date | None = None) -> list[dict] | None:
    """The records of every statement in `paths` (None when there are none: "not recorded"); a statement that
    does not verify or is out of date stops the maker with IntegrityError before anything is made."""
    paths = list(paths or [])
    if not paths:
        return None
    records = []
    for path in paths:
        check = read_statement(path, today)
        if not check.valid:
            raise IntegrityError(f"consent statement {path} is not usable: {'; '.join(check.problems)}")
        records.append(check.record())
    return records


def consent_assertion(records: list[dict] | None) -> dict:
    """The C2PA assertion for the consent an output was made with (or the lack of it)."""
    if not records:
        return {"label": CONSENT_LABEL, "data": {"status": NOT_RECORDED, "statements": []}}
    return {"label": CONSENT_LABEL, "data": {"status": "recorded", "format": CONSENT_FORMAT, "statements": records}}


def ledger_consent(records: list[dict] | None) -> dict:
    """The ledger record's `extra.consent` for the same."""
    return consent_assertion(records)["data"]
