"""Local signing CA: certificate profile the C2PA SDK accepts, key file modes, refusal to overwrite."""

from __future__ import annotations

import json
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from dflab.cli.main import main
from dflab.config import dflab_home
from dflab.errors import UsageError
from dflab.provenance.keys import KeyPaths, init_keys, keys_dir, load_signing_material


def test_init_writes_ca_and_end_entity_with_c2pa_profile():
    paths = init_keys()
    assert paths.root == dflab_home() / "keys"
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    ee = x509.load_pem_x509_certificate(paths.signer_cert.read_bytes())
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert ee.issuer == ca.subject and ee.subject != ee.issuer  # not self-signed
    ee_ku = ee.extensions.get_extension_for_class(x509.KeyUsage)
    assert ee_ku.critical and ee_ku.value.digital_signature
    eku = ee.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    ee.verify_directly_issued_by(ca)
    # Chain: end entity first, then the CA.
    chain = x509.load_pem_x509_certificates(paths.chain.read_bytes())
    assert [c.subject for c in chain] == [ee.subject, ca.subject]


def test_private_keys_are_owner_only():
    paths = init_keys()
    for key in (paths.ca_key, paths.signer_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.root.stat().st_mode) == 0o700


def test_init_refuses_to_overwrite_without_force():
    first = init_keys().ca_cert.read_bytes()
    with pytest.raises(UsageError):
        init_keys()
    assert KeyPaths(keys_dir()).ca_cert.read_bytes() == first
    init_keys(force=True)
    assert KeyPaths(keys_dir()).ca_cert.read_bytes() != first


def test_cli_init_show_and_errors(capsys):
    assert main(["keys", "show"]) == 2
    assert "dflab keys init" in capsys.readouterr().err
    assert main(["keys", "init"]) == 0
    capsys.readouterr()
    assert main(["keys", "init"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert main(["keys", "show", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["signer"]["issuer"] == info["ca"]["subject"]
    assert info["signer"]["key_mode"] == "0o600"
    assert main(["keys", "init", "--force"]) == 0


def test_missing_or_damaged_keys_are_clear_errors(capsys):
    assert main(["sign", "a.jpg", "b.jpg"]) == 2  # input missing: refused before keys matter
    paths = init_keys()
    paths.signer_key.write_text("not a key")
    from dflab.errors import IntegrityError

    with pytest.raises(IntegrityError):
        load_signing_material()
