"""POST /v1/verify, /v1/trace, /v1/register, /v1/sign and the ledger under /v1/log: the CLI's documents."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from dflab.provenance.keys import init_keys
from dflab.provenance.ledger import verify_proof

pytest.importorskip("fastapi", reason="dflab serve needs fastapi (requirements.txt: make setup)")
pytest.importorskip("httpx", reason="the service tests need httpx (requirements.txt: make setup)")


def _reencoded(picture, tmp_path):
    """The picture resized to 80 % and saved again as JPEG quality 70 (a typical re-share)."""
    with Image.open(picture) as im:
        smaller = im.convert("RGB").resize((im.width * 4 // 5, im.height * 4 // 5))
    out = tmp_path / "reshared.jpg"
    smaller.save(out, quality=70)
    return out


def test_register_then_trace_a_reencoded_copy(served, picture, tmp_path, upload):
    client, service = served
    registered = upload(client, "/v1/register", picture, name="original.jpg")
    assert registered.status_code == 200, registered.text
    doc = registered.json()
    assert doc["path"] == "original.jpg" and doc["existing"] is False and doc["media_type"] == "image"
    again = upload(client, "/v1/register", picture, name="original.jpg").json()
    assert again["existing"] is True and again["record"] == doc["record"]

    anonymous = client.__class__(client.app)
    traced = upload(anonymous, "/v1/trace", _reencoded(picture, tmp_path))
    assert traced.status_code == 200, traced.text
    result = traced.json()
    assert result["path"] == "reshared.jpg" and result["matches"], result
    best = result["matches"][0]
    assert best["record"] == doc["record"] and best["path"] == "original.jpg" and best["exact"] is False
    assert str(service.stores.root) not in traced.text
    # the same document as the library call (what `dflab trace --json` prints), paths aside
    import dflab

    direct = dflab.trace(_reencoded(picture, tmp_path), lab=service.lab).to_json()
    assert [m["record"] for m in direct["matches"]] == [m["record"] for m in result["matches"]]
    assert direct["matches"][0]["distance"] == best["distance"]
    assert upload(anonymous, "/v1/trace", picture, top="0").status_code == 422


def test_sign_then_verify_with_ledger_proof(served, picture, upload):
    client, service = served
    init_keys()
    signed = upload(client, "/v1/sign", picture, name="signed.jpg", synthetic="true")
    assert signed.status_code == 200, signed.text
    record = int(signed.headers["x-dflab-ledger-record"])
    assert signed.content[:2] == b"\xff\xd8" and len(signed.content) > picture.stat().st_size

    anonymous = client.__class__(client.app)
    verified = anonymous.post("/v1/verify", files={"file": ("signed.jpg", io.BytesIO(signed.content))})
    assert verified.status_code == 200, verified.text
    doc = verified.json()
    assert doc["path"] == "signed.jpg" and doc["c2pa"]["state"] == "Trusted" and doc["synthetic"] is True
    assert doc["problems"] == [] and doc["verdict"] == "trusted"
    proven = {r["record"]: r for r in doc["ledger"]["records"]}
    assert proven[record]["verified"] is True


def test_ledger_endpoints_match_the_cli_and_verify_offline(served, picture, other_picture, upload):
    client, service = served
    for path in (picture, other_picture):
        assert upload(client, "/v1/register", path).status_code == 200
    anonymous = client.__class__(client.app)
    checkpoint = anonymous.get("/v1/log/checkpoint").json()
    assert checkpoint["tree_size"] == 2 and checkpoint["checkpoint"].startswith(service.lab.origin)
    assert anonymous.get("/v1/log/checkpoint").json() == checkpoint  # no new signature for an unchanged tree

    entry = anonymous.get("/v1/log/entries/1").json()
    assert entry["record_id"] == 1 and entry["record"] == service.lab.ledger().get_json(1)

    proof = anonymous.get("/v1/log/entries/0/proof").json()
    summary = verify_proof(proof, checkpoint["verifier_key"])
    assert summary["kind"] == "inclusion" and summary["index"] == 0 and summary["tree_size"] == 2

    at_one = anonymous.get("/v1/log/entries/0/proof?tree_size=1").json()
    assert at_one["tree_size"] == 1 and at_one["proof"] == []
    assert at_one["checkpoint"].startswith(f"{service.lab.origin}\n1\n")  # every append batch signs a checkpoint
    assert at_one["root"] == at_one["leaf_hash"]
    assert anonymous.get("/v1/log/entries/1/proof?tree_size=1").status_code == 422
    assert anonymous.get("/v1/log/entries/5/proof").status_code == 404

    consistency = anonymous.get("/v1/log/consistency?first=1&second=2").json()
    assert consistency == json.loads(json.dumps(service.lab.ledger().consistency(1, 2)))
    checked = verify_proof(consistency, checkpoint["verifier_key"])
    assert checked["kind"] == "consistency" and checked["new_size"] == 2
    assert anonymous.get("/v1/log/consistency?first=3&second=2").status_code == 422
