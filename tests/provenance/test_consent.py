"""Consent statements: signed, checked (signature, dates, format), refused when altered or out of date; the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dflab.cli.main import main
from dflab.errors import IntegrityError, UsageError
from dflab.provenance.consent import (
    CONSENT_LABEL,
    NOT_RECORDED,
    check_statement,
    consent_assertion,
    create_statement,
    fingerprint,
    generate_key,
    require_consent,
)

TODAY = dt.date(2026, 12, 6)
NOW = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def key() -> bytes:
    return generate_key()


def _statement(key: bytes, **changes) -> dict:
    doc = create_statement("Jane Doe", "face swap for a lab demo", "2027-06-30", key, now=NOW)
    return {**doc, **changes}


def _raw(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def test_a_signed_statement_verifies_and_names_its_signer(key):
    doc = _statement(key)
    check = check_statement(_raw(doc), today=TODAY)
    assert check.valid and check.signature_ok and check.problems == ()
    assert check.subject == "Jane Doe" and check.use == "face swap for a lab demo"
    assert (check.valid_from, check.valid_until) == ("2026-12-06", "2027-06-30")
    assert check.signer == fingerprint(doc["public_key"]) and len(check.signer) == 16
    assert check.record()["sha256"] == check.sha256 and len(check.sha256) == 64


@pytest.mark.parametrize("field, value", [("subject", "John Roe"), ("use", "anything at all"), ("valid_until", "2099-12-31")])
def test_an_altered_statement_is_refused(key, field, value):
    check = check_statement(_raw(_statement(key, **{field: value})), today=TODAY)
    assert not check.valid and not check.signature_ok
    assert any("signature" in p for p in check.problems)


def test_another_keys_signature_is_refused(key):
    other = _statement(generate_key())
    forged = _statement(key, signature=other["signature"])
    assert not check_statement(_raw(forged), today=TODAY).signature_ok


def test_dates_bound_the_consent(key):
    doc = _statement(key)
    assert not check_statement(_raw(doc), today=dt.date(2027, 7, 1)).valid  # expired
    assert "expired" in " ".join(check_statement(_raw(doc), today=dt.date(2027, 7, 1)).problems)
    assert not check_statement(_raw(doc), today=dt.date(2026, 12, 5)).valid  # not yet
    assert check_statement(_raw(doc), today=dt.date(2027, 6, 30)).valid  # the last day still counts
    with pytest.raises(UsageError):
        create_statement("Jane Doe", "demo", "2026-01-01", key, now=NOW)  # ends before it starts
    with pytest.raises(UsageError):
        create_statement("Jane Doe", "demo", "next year", key, now=NOW)


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"format": "dflab-consent-1"}'])
def test_garbage_is_not_a_statement(raw):
    check = check_statement(raw, today=TODAY)
    assert not check.valid and check.problems


def test_require_consent_refuses_an_unusable_statement(key, tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_bytes(_raw(_statement(key)))
    bad.write_bytes(_raw(_statement(key, use="something else")))
    records = require_consent([good], today=TODAY)
    assert [r["subject"] for r in records] == ["Jane Doe"]
    assert require_consent([], today=TODAY) is None
    with pytest.raises(IntegrityError, match="not usable"):
        require_consent([good, bad], today=TODAY)


def test_assertion_says_not_recorded_without_consent(key):
    assert consent_assertion(None) == {"label": CONSENT_LABEL, "data": {"status": NOT_RECORDED, "statements": []}}
    check = check_statement(_raw(_statement(key)), today=TODAY)
    data = consent_assertion([check.record()])["data"]
    assert data["status"] == "recorded" and data["statements"][0]["signer"] == check.signer


def test_cli_keygen_create_verify(tmp_path, capsys):
    key, out = tmp_path / "jane.pem", tmp_path / "jane-consent.json"
    assert main(["consent", "keygen", str(key)]) == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    capsys.readouterr()
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    assert main(["consent", "create", "--subject", "Jane Doe", "--use", "lab demo", "--until", until,
                 "--key", str(key), "--out", str(out), "--json"]) == 0  # fmt: skip
    created = json.loads(capsys.readouterr().out)
    assert created["valid"] and created["output"] == str(out)
    assert main(["consent", "verify", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] and doc["subject"] == "Jane Doe" and doc["valid_until"] == until
    tampered = tmp_path / "tampered.json"
    tampered.write_text(out.read_text().replace("lab demo", "anything"))
    assert main(["consent", "verify", str(tampered)]) == 1
    assert "NOT USABLE" in capsys.readouterr().out
    # bad input: one line, exit 2
    assert main(["consent", "verify", str(tmp_path / "missing.json")]) == 2
    assert main(["consent", "keygen", str(key)]) == 2  # never overwrites a key
    assert main(["consent", "create", "--subject", "J", "--use", "u", "--until", "soon", "--key", str(key),
                 "--out", str(tmp_path / "x.json")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "Traceback" not in err
