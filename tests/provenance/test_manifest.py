"""Signing real media with the local CA and reading it back: trust, source type, tampering, formats."""

from __future__ import annotations

import json
import shutil

import pytest

from dflab.cli.main import main
from dflab.errors import BadMedia, IntegrityError, NotFound, Unsupported, UsageError
from dflab.provenance.keys import init_keys, make_key_set
from dflab.provenance.manifest import (
    DIGITAL_CAPTURE,
    LEDGER_LABEL,
    SOFT_BINDING_ALG,
    TRAINED_ALGORITHMIC_MEDIA,
    read_manifest,
    sign_file,
)
from dflab.provenance.payload import payload_for_record


@pytest.fixture
def photo(shared_data):
    return shared_data / "face_recognition" / "examples" / "biden.jpg"


@pytest.fixture
def keys():
    return init_keys()


def test_sign_real_photo_reads_trusted_with_digital_capture(photo, keys, tmp_path):
    out = tmp_path / "signed.jpg"
    summary = sign_file(photo, out, synthetic=False)
    assert out.stat().st_size > photo.stat().st_size
    assert summary["manifest_bytes"] > 0
    result = read_manifest(out)
    assert result["state"] == "Trusted"
    assert result["digital_source_type"] == DIGITAL_CAPTURE
    assert result["synthetic"] is False
    assert [a["action"] for a in result["actions"]] == ["c2pa.created"]
    assert result["failure_codes"] == []
    assert result["signer"]["common_name"] == "dflab signer"
    # The unsigned original has no manifest at all.
    assert read_manifest(photo)["state"] == "none"


def test_synthetic_gets_trained_algorithmic_media_soft_binding_and_ledger(photo, keys, tmp_path):
    out = tmp_path / "gen.jpg"
    payload = payload_for_record(42)
    ledger = {"record": 42, "leaf_hash": "ab" * 32, "tree_size": 43, "root": "cd" * 32}
    sign_file(photo, out, synthetic=True, soft_binding=payload, ledger_record=ledger)
    result = read_manifest(out)
    assert result["state"] == "Trusted"
    assert result["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    assert result["synthetic"] is True
    assert result["soft_binding"]["alg"] == SOFT_BINDING_ALG
    assert result["soft_binding"]["blocks"][0]["value"] == payload.hex()
    assert result["ledger"] == ledger
    labels = [a["label"] for a in result["active_manifest"]["assertions"]]
    assert LEDGER_LABEL in labels and "c2pa.soft-binding" in labels


@pytest.mark.parametrize("where", ["pixels", "manifest"])
def test_one_changed_byte_reads_invalid(photo, keys, tmp_path, where):
    out = tmp_path / "signed.jpg"
    sign_file(photo, out, synthetic=False)
    data = bytearray(out.read_bytes())
    # The manifest sits in APP11 segments near the start; the entropy-coded pixels are at the end.
    # In the manifest: a byte of an assertion's content (the software agent's name), covered by the claim.
    offset = len(data) - 5000 if where == "pixels" else data.index(b"softwareAgent") + 20
    data[offset] ^= 0x01
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    result = read_manifest(tampered)
    assert result["state"] == "Invalid"
    assert result["failure_codes"]


def test_other_ca_is_not_trusted(photo, keys, tmp_path):
    out = tmp_path / "signed.jpg"
    sign_file(photo, out, synthetic=False)
    stranger = make_key_set("stranger")["ca.cert.pem"]
    result = read_manifest(out, trust_anchors=stranger)
    assert result["state"] == "Valid"  # intact, but not by a trusted signer
    assert "signingCredential.untrusted" in result["failure_codes"]
    assert read_manifest(out, trust_anchors=b"")["state"] == "Valid"


def test_keys_replaced_after_signing_are_not_trusted(photo, keys, tmp_path):
    out = tmp_path / "signed.jpg"
    sign_file(photo, out, synthetic=False)
    init_keys(force=True)
    assert read_manifest(out)["state"] == "Valid"


def test_sign_real_mp4_png_webp(shared_data, keys, tmp_path):
    clip = shared_data / "liveportrait" / "assets" / "examples" / "driving" / "d18.mp4"
    fixtures = shared_data / "c2pa_python_fixtures" / "tests" / "fixtures" / "files-for-signing-tests"
    for src in (clip, shared_data / "face_recognition" / "examples" / "alex-lacamoire.png", fixtures / "mars.webp"):
        out = tmp_path / f"signed{src.suffix}"
        sign_file(src, out, synthetic=True)
        result = read_manifest(out)
        assert result["state"] == "Trusted", (src.name, result["failure_codes"])
        assert result["synthetic"] is True


def test_parents_become_ingredients_and_resigning_keeps_the_chain(photo, keys, tmp_path, shared_data):
    first = tmp_path / "a.jpg"
    sign_file(photo, first, synthetic=False)
    other = shared_data / "face_recognition" / "examples" / "obama-240p.jpg"
    derived = tmp_path / "b.jpg"
    sign_file(other, derived, synthetic=True, ingredients=[first, photo])
    result = read_manifest(derived)
    assert result["state"] == "Trusted"
    assert [a["action"] for a in result["actions"]] == ["c2pa.opened", "c2pa.edited"]
    assert [i["relationship"] for i in result["ingredients"]] == ["parentOf", "componentOf"]
    assert result["n_manifests"] == 2  # the signed parent's manifest travels with it
    # Re-signing a signed file only "opens" it; the source type is inherited from its parent manifest.
    again = tmp_path / "c.jpg"
    sign_file(first, again, synthetic=False)
    result = read_manifest(again)
    assert [a["action"] for a in result["actions"]] == ["c2pa.opened"]
    assert result["digital_source_type"] == DIGITAL_CAPTURE and result["digital_source_type_from"] == "parent"


def test_bad_inputs(photo, keys, tmp_path):
    out = tmp_path / "o.jpg"
    with pytest.raises(NotFound):
        sign_file(tmp_path / "missing.jpg", out, synthetic=False)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(Unsupported):
        sign_file(text, tmp_path / "o.txt", synthetic=False)
    fake = tmp_path / "fake.jpg"
    fake.write_text("this is not a jpeg at all")
    with pytest.raises(BadMedia):
        sign_file(fake, out, synthetic=False)
    assert not out.exists() and not list(tmp_path.glob(".o.jpg*"))  # no half-written output
    with pytest.raises(UsageError):
        sign_file(photo, tmp_path / "o.png", synthetic=False)  # format change
    out.write_bytes(b"x")
    with pytest.raises(UsageError):
        sign_file(photo, out, synthetic=False)
    assert out.read_bytes() == b"x"


def test_corrupt_manifest_is_an_error_not_a_state(photo, keys, tmp_path):
    out = tmp_path / "signed.jpg"
    sign_file(photo, out, synthetic=False)
    data = bytearray(out.read_bytes())
    # Rename the actions assertion box: the claim then points at an assertion that is not there.
    start = data.index(b"c2pa.actions")
    data[start + 4] ^= 0x01
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        read_manifest(broken)


def test_sign_cli_one_line_errors(photo, keys, tmp_path, capsys):
    out = tmp_path / "s.jpg"
    assert main(["sign", str(photo), str(out), "--synthetic", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["synthetic"] is True and summary["output"] == str(out)
    for argv in (
        ["sign", str(photo), str(out)],  # output exists
        ["sign", str(tmp_path / "none.jpg"), str(tmp_path / "x.jpg")],
        ["sign", __file__, str(tmp_path / "x.py")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("dflab sign: error:") and err.count("\n") == 1
    shutil.rmtree(keys.root)
    assert main(["sign", str(photo), str(tmp_path / "y.jpg")]) == 2
    assert "dflab keys init" in capsys.readouterr().err
    assert not (tmp_path / "y.jpg").exists()
