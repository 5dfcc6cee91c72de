"""Conformance of dflab.provenance.ledger.merkle with every case in shared/data/merkle_rfc6962.

The transparency-dev/merkle vectors: tree roots for sizes 0..8, and 518 inclusion / consistency / subtree
inclusion / subtree consistency cases, valid ones and systematically corrupted ones. Every valid case must
verify and every corrupted one must raise ProofError (never another exception type).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from dflab.errors import IntegrityError
from dflab.provenance.ledger import merkle

EXPECTED_CASES = {"inclusion": 98, "consistency": 98, "subtreeinclusion": 204, "subtreeconsistency": 118}


def _b64(value) -> bytes:
    return base64.b64decode(value) if value else b""


def _proof(case) -> list[bytes]:
    return [_b64(h) for h in (case["proof"] or [])]


def _run(kind: str, case: dict) -> None:
    if kind == "inclusion":
        merkle.verify_inclusion(
            case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), _proof(case), _b64(case["root"])
        )
    elif kind == "consistency":
        merkle.verify_consistency(
            case["size1"], case["size2"], _proof(case), _b64(case["root1"]), _b64(case["root2"])
        )
    elif kind == "subtreeinclusion":
        merkle.verify_subtree_inclusion(
            case["leafIdx"], case["start"], case["end"], _b64(case["leafHash"]), _proof(case), _b64(case["root"])
        )
    elif kind == "subtreeconsistency":
        merkle.verify_subtree_consistency(
            case["start"], case["end"], case["size"], _proof(case), _b64(case["root1"]), _b64(case["root2"])
        )
    else:  # pragma: no cover - a new folder in the data set must be handled explicitly
        raise AssertionError(f"unknown case kind {kind}")


@pytest.fixture(scope="module")
def vectors_dir(shared_data: Path) -> Path:
    return shared_data / "merkle_rfc6962"


@pytest.mark.parametrize("kind", sorted(EXPECTED_CASES))
def test_every_proof_case(vectors_dir: Path, kind: str) -> None:
    files = sorted((vectors_dir / "testdata" / kind).rglob("*.json"))
    assert len(files) == EXPECTED_CASES[kind], f"expected {EXPECTED_CASES[kind]} {kind} cases, found {len(files)}"
    failures = []
    valid = 0
    for path in files:
        case = json.loads(path.read_text())
        try:
            _run(kind, case)
            ok = True
            error = None
        except merkle.ProofError as exc:
            ok = False
            error = exc
        if ok == case["wantErr"]:
            failures.append(f"{path.relative_to(vectors_dir)}: wantErr={case['wantErr']} got error={error!r}")
        valid += not case["wantErr"]
    assert not failures, "\n".join(failures)
    assert valid > 0  # the happy paths were really exercised


def test_proof_errors_are_integrity_errors() -> None:
    assert issubclass(merkle.ProofError, IntegrityError)
    assert issubclass(merkle.RootMismatch, merkle.ProofError)


@pytest.fixture(scope="module")
def rfc_tree(vectors_dir: Path):
    data = json.loads((vectors_dir / "rfc6962_vectors.json").read_text())
    leaves = [bytes.fromhex(x) for x in data["leaf_inputs_hex"]]
    return data, [merkle.hash_leaf(x) for x in leaves]


def test_roots_and_node_hashes(rfc_tree) -> None:
    data, leaf_hashes = rfc_tree
    assert [h.hex() for h in leaf_hashes] == data["node_hashes_by_level_hex"][0]
    for size, want in enumerate(data["root_hashes_by_tree_size_hex"]):
        assert merkle.root_from_leaf_hashes(leaf_hashes[:size]).hex() == want
        assert merkle.root_at(size, merkle.list_reader(leaf_hashes[:size])).hex() == want
    read = merkle.list_reader(leaf_hashes)
    for level, hashes in enumerate(data["node_hashes_by_level_hex"]):
        assert [h.hex() for h in read([(level, i) for i in range(len(hashes))])] == hashes
    assert merkle.EMPTY_ROOT.hex() == data["root_hashes_by_tree_size_hex"][0]


def test_generated_proofs_equal_the_happy_path_vectors(vectors_dir: Path, rfc_tree) -> None:
    """Our proof generation reproduces the reference proofs byte for byte (not only self-consistent)."""
    _, leaf_hashes = rfc_tree
    read = merkle.list_reader(leaf_hashes)
    checked = 0
    for path in sorted((vectors_dir / "testdata" / "inclusion").glob("[0-9]*/happy-path.json")):
        case = json.loads(path.read_text())
        assert _b64(case["leafHash"]) == leaf_hashes[case["leafIdx"]]
        proof = merkle.inclusion_proof(case["leafIdx"], case["treeSize"], read)
        assert proof == _proof(case), path
        checked += 1
    for path in sorted((vectors_dir / "testdata" / "consistency").glob("[0-9]*/happy-path.json")):
        case = json.loads(path.read_text())
        if case["size1"] == case["size2"]:
            continue
        assert merkle.consistency_proof(case["size1"], case["size2"], read) == _proof(case), path
        checked += 1
    assert checked >= 6


def test_generated_proofs_verify_for_every_size_pair() -> None:
    """Exhaustive over small trees: every inclusion and consistency proof we make verifies, and one flipped bit
    in any proof hash makes it fail."""
    leaf_hashes = [merkle.hash_leaf(i.to_bytes(2, "big")) for i in range(33)]
    read = merkle.list_reader(leaf_hashes)
    for size in range(1, 34):
        root = merkle.root_from_leaf_hashes(leaf_hashes[:size])
        assert merkle.root_at(size, read) == root
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, read)
            merkle.verify_inclusion(index, size, leaf_hashes[index], proof, root)
            if proof:
                bad = list(proof)
                bad[-1] = bytes([bad[-1][0] ^ 1]) + bad[-1][1:]
                with pytest.raises(merkle.RootMismatch):
                    merkle.verify_inclusion(index, size, leaf_hashes[index], bad, root)
        for old in range(1, size + 1):
            old_root = merkle.root_from_leaf_hashes(leaf_hashes[:old])
            proof = merkle.consistency_proof(old, size, read)
            merkle.verify_consistency(old, size, proof, old_root, root)
            if proof:
                bad = list(proof)
                bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
                with pytest.raises(merkle.ProofError):
                    merkle.verify_consistency(old, size, bad, old_root, root)


def test_new_perfect_nodes_match_a_full_rebuild() -> None:
    """Appending in uneven batches stores exactly the perfect subtrees of the final tree."""
    leaf_hashes = [merkle.hash_leaf(bytes([i])) for i in range(100)]
    stored: dict[tuple[int, int], bytes] = {}
    pos = 0
    for batch in (1, 2, 3, 7, 1, 16, 5, 30, 35):
        rows = merkle.new_perfect_nodes(pos, leaf_hashes[pos : pos + batch], lambda ks: [stored[k] for k in ks])
        for level, idx, h in rows:
            assert (level, idx) not in stored
            stored[(level, idx)] = h
        pos += batch
        assert merkle.root_at(pos, lambda ks: [stored[k] for k in ks]) == merkle.root_from_leaf_hashes(leaf_hashes[:pos])
    expected = sum(100 >> level for level in range(8))
    assert len(stored) == expected


def test_bad_proof_requests_raise_proof_error() -> None:
    read = merkle.list_reader([merkle.hash_leaf(b"x")] * 4)
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(4, 4, read)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(0, 4, read)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(3, 2, read)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(0, 4, b"short", [], b"")
