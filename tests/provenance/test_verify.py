"""`dflab verify`: one answer from C2PA, watermark, registry and ledger; payload <-> record mapping."""

from __future__ import annotations

import json

import pytest

from dflab.cli.main import main
from dflab.provenance.keys import init_keys, make_key_set
from dflab.provenance.payload import MAX_RECORD_ID, payload_for_record, record_from_payload
from dflab.errors import UsageError


@pytest.fixture
def photo(shared_data):
    return shared_data / "face_recognition" / "examples" / "obama-480p.jpg"


def _verify(capsys, path, *extra) -> tuple[int, dict | None, str]:
    rc = main(["verify", str(path), "--json", *extra])
    out = capsys.readouterr()
    return rc, (json.loads(out.out) if out.out.strip() else None), out.err


def test_payload_round_trip_and_foreign_payloads():
    for record in (0, 1, 4242, MAX_RECORD_ID):
        payload = payload_for_record(record)
        assert len(payload) == 8
        assert record_from_payload(payload) == record
        assert record_from_payload(payload.hex()) == record
    assert payload_for_record(258) == bytes.fromhex("df01000000000102")
    assert record_from_payload(bytes(8)) is None  # wrong tag
    assert record_from_payload("df0100") is None  # wrong length
    assert record_from_payload("zz") is None and record_from_payload(None) is None
    with pytest.raises(UsageError):
        payload_for_record(MAX_RECORD_ID + 1)
    with pytest.raises(UsageError):
        payload_for_record(-1)


def test_sign_then_verify_trusted_with_ledger_proof(photo, tmp_path, capsys):
    init_keys()
    out = tmp_path / "gen.jpg"
    assert main(["sign", str(photo), str(out), "--synthetic", "--payload", payload_for_record(3).hex()]) == 0
    capsys.readouterr()
    rc, result, _ = _verify(capsys, out)
    assert rc == 0
    assert set(result) >= {"c2pa", "watermark", "registry", "ledger", "summary", "synthetic"}
    assert result["c2pa"]["state"] == "Trusted" and result["verdict"] == "trusted"
    assert result["synthetic"] is True
    assert result["c2pa"]["soft_binding"]["blocks"][0]["value"] == payload_for_record(3).hex()
    ledger_assertion = result["c2pa"]["ledger"]
    if ledger_assertion is not None:  # the ledger package is installed: the record is embedded and proven
        records = {r["record"]: r for r in result["ledger"]["records"]}
        entry = records[ledger_assertion["record"]]
        assert entry["verified"] is True and entry["entry"]["action"] == "sign"
        assert entry["proof"]["leaf_hash"] == ledger_assertion["leaf_hash"]
    # Human-readable form says the same.
    assert main(["verify", str(out)]) == 0
    text = capsys.readouterr().out
    assert "TRUSTED" in text and "trainedAlgorithmicMedia" in text


def test_one_byte_changed_is_invalid_and_other_ca_not_trusted(photo, tmp_path, capsys):
    init_keys()
    out = tmp_path / "s.jpg"
    assert main(["sign", str(photo), str(out), "--no-ledger"]) == 0
    capsys.readouterr()
    data = bytearray(out.read_bytes())
    data[-3000] ^= 0x10
    tampered = tmp_path / "t.jpg"
    tampered.write_bytes(bytes(data))
    rc, result, _ = _verify(capsys, tampered)
    assert rc == 1 and result["c2pa"]["state"] == "Invalid" and result["verdict"] == "tampered"  # 1: something is wrong
    assert "TAMPERED" in result["summary"] and "does not validate" in result["problems"][0]
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(make_key_set("stranger")["ca.cert.pem"])
    rc, result, _ = _verify(capsys, out, "--trust", str(stranger))
    assert rc == 0 and result["c2pa"]["state"] == "Valid" and result["verdict"] == "signed-untrusted"


def test_unsigned_media_has_no_provenance(photo, capsys):
    rc, result, _ = _verify(capsys, photo)
    assert rc == 0 and result["c2pa"]["state"] == "none" and result["synthetic"] is None


def test_bad_input_exit_2_one_line(tmp_path, photo, capsys):
    init_keys()
    text = tmp_path / "notes.txt"
    text.write_text("not media")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    signed = tmp_path / "s.jpg"
    assert main(["sign", str(photo), str(signed), "--no-ledger"]) == 0
    data = bytearray(signed.read_bytes())
    data[data.index(b"c2pa.actions") + 4] ^= 0x01  # the claim now names an assertion that is not there
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(bytes(data))
    capsys.readouterr()
    for path in (tmp_path / "missing.jpg", text, empty, corrupt):
        rc = main(["verify", str(path)])
        err = capsys.readouterr().err
        assert rc == 2, path
        assert err.startswith("dflab verify: error:") and err.count("\n") == 1, err


def test_registry_match_names_the_record(photo, tmp_path, capsys):
    registry = pytest.importorskip("dflab.provenance.registry")
    if not hasattr(registry, "register"):
        pytest.skip("registry has no register()")
    init_keys()
    registered = registry.register(photo)
    out = tmp_path / "s.jpg"
    assert main(["sign", str(photo), str(out), "--no-ledger"]) == 0
    capsys.readouterr()
    rc, result, _ = _verify(capsys, out)
    assert rc == 0 and result["registry"]["available"]
    best = result["registry"]["matches"][0]
    assert best["record"] == registered["record"] and best["distance"] <= 10
    records = {r["record"]: r for r in result["ledger"]["records"]}
    assert records[registered["record"]]["verified"] is True


# ---------------------------------------------------------------- exit codes and wording


def _text(capsys, *argv) -> tuple[int, str]:
    rc = main(list(argv))
    return rc, capsys.readouterr().out


def test_exit_codes_0_clean_1_tampered_2_not_media(photo, tmp_path, capsys):
    init_keys()
    signed = tmp_path / "signed.jpg"
    assert main(["sign", str(photo), str(signed)]) == 0  # with its ledger record
    capsys.readouterr()
    rc, result, _ = _verify(capsys, signed)
    assert rc == 0 and result["problems"] == [] and result["ledger"]["verified"] is True
    data = bytearray(signed.read_bytes())
    data[-3000] ^= 0x10
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    rc, result, _ = _verify(capsys, tampered)
    assert rc == 1 and result["verdict"] == "tampered"
    rc, text = _text(capsys, "verify", str(tampered))
    assert rc == 1 and "PROBLEM:   the C2PA manifest does not validate" in text and "None" not in text
    notes = tmp_path / "notes.txt"
    notes.write_text("not media at all")
    assert main(["verify", str(notes)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dflab verify: error:") and err.count("\n") == 1


def test_a_failing_ledger_proof_exits_1(photo, tmp_path, capsys):
    """The manifest validates, but the ledger record it names was edited afterwards: the proof fails."""
    import sqlite3

    from dflab.config import default_config

    init_keys()
    signed = tmp_path / "signed.jpg"
    assert main(["sign", str(photo), str(signed), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)["ledger"]["record"]
    with sqlite3.connect(default_config().database_path) as db:
        db.execute("UPDATE leaves SET data = replace(data, '\"sign\"', '\"edit\"') WHERE idx = ?", (record,))
    rc, result, _ = _verify(capsys, signed)
    assert rc == 1 and result["c2pa"]["state"] == "Trusted"
    assert any(f"ledger record {record}" in p and "altered" in p for p in result["problems"]), result["problems"]
    rc, text = _text(capsys, "verify", str(signed))
    assert rc == 1 and "NOT verified" in text and "None" not in text


def test_a_watermark_naming_a_missing_record_is_said_in_words(photo, tmp_path, capsys):
    """A mark that names a record this ledger never issued: exit 1, and the report says so without "None"."""
    marked = tmp_path / "marked.png"
    assert main(["watermark", "embed", str(photo), str(marked), "--payload", payload_for_record(4242).hex()]) == 0
    capsys.readouterr()
    rc, result, _ = _verify(capsys, marked)
    assert rc == 1 and result["watermark"]["record"] == 4242
    assert any("ledger has no record 4242" in p for p in result["problems"])
    rc, text = _text(capsys, "verify", str(marked))
    assert rc == 1 and "ledger record 4242" in text and "None" not in text


def test_unsigned_unregistered_file_reads_without_none(photo, capsys):
    for argv in (["verify", str(photo)], ["trace", str(photo)]):
        rc, text = _text(capsys, *argv)
        assert rc == 0 and "None" not in text, text
    rc, text = _text(capsys, "register", str(photo))
    assert rc == 0 and "None" not in text and "record 0" in text
    rc, text = _text(capsys, "verify", str(photo))
    assert rc == 0 and "None" not in text and "record 0" in text


def test_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as done:
        main(["verify", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "exit codes:" in text and "0  nothing is wrong" in text and "1  something is wrong" in text
    assert "2  bad input" in text
