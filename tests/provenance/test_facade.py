"""The typed provenance API: each result's to_json() is the document the matching CLI command prints."""

from __future__ import annotations

import json

import pytest

import dflab
from dflab.cli.main import main
from dflab.lab import Lab
from dflab.provenance.facade import RegisterResult, TraceMatch, TraceResult, VerifyResult
from dflab.provenance.keys import init_keys
from dflab.provenance.registry import DEFAULT_CROPS

HASHES_PER_PHOTO = 1 + len(DEFAULT_CROPS)  # the full frame and each registered centre crop


@pytest.fixture
def photo(shared_data):
    return shared_data / "face_recognition" / "examples" / "obama-480p.jpg"


def _cli_json(capsys, *argv) -> tuple[int, dict]:
    rc = main([*argv, "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_register_trace_verify_match_the_cli(photo, tmp_path, capsys):
    first = dflab.register(photo)
    assert isinstance(first, RegisterResult) and not first.existing and first.hashes == HASHES_PER_PHOTO
    rc, cli = _cli_json(capsys, "register", str(photo))
    assert rc == 0 and cli == dflab.register(photo).to_json() and cli["existing"] is True

    init_keys()
    signed = tmp_path / "signed.jpg"
    assert main(["sign", str(photo), str(signed)]) == 0
    capsys.readouterr()
    rc, cli = _cli_json(capsys, "trace", str(signed))
    traced = dflab.trace(signed)
    assert rc == 0 and isinstance(traced, TraceResult) and traced.to_json() == cli
    assert traced.best.record == first.record and isinstance(traced.best, TraceMatch)
    assert traced.best.ledger["content_sha256"] == first.sha256

    rc, cli = _cli_json(capsys, "verify", str(signed))
    checked = dflab.verify(signed)
    assert rc == checked.exit_code == 0 and isinstance(checked, VerifyResult)
    assert checked.to_json() == cli and checked.verdict == "trusted" and checked.c2pa_state == "Trusted"


def test_results_round_trip_through_json(photo):
    with Lab.memory() as lab:
        registered = dflab.register(photo, lab=lab)
        traced = dflab.trace(photo, lab=lab)
        checked = dflab.verify(photo, lab=lab)
    assert RegisterResult.from_json(registered.to_json()) == registered
    assert TraceResult.from_json(traced.to_json()) == traced
    assert VerifyResult.from_json(checked.to_json()).to_json() == checked.to_json()
    assert traced.best.exact and traced.best.distance == 0 and "by" not in traced.best.to_json()
    assert checked.ok and checked.ledger_records == [registered.record]


def test_bad_arguments_are_usage_errors(photo):
    from dflab.errors import NotFound, UsageError

    with Lab.memory() as lab:
        with pytest.raises(UsageError):
            dflab.trace(photo, lab=lab, top=0)
        with pytest.raises(NotFound):
            dflab.compare(photo.with_name("missing.mp4"), lab=lab)
        with pytest.raises(NotFound, match="does not trace"):
            dflab.compare(photo, lab=lab)  # nothing registered: no original to compare with
