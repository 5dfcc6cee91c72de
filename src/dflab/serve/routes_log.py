"""The ledger, public and read-only: /v1/log/checkpoint, entries, inclusion and consistency proofs (the
`dflab ledger ... --json` documents). A transparency log must be auditable by anyone, so none of this needs a key."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request

from dflab.errors import NotFound, UsageError
from dflab.serve.deps import public_caller, service_of
from dflab.serve.models import Checkpoint, ConsistencyProof, Entry, InclusionProof, Problem
from dflab.storage.api_keys import ApiKey

router = APIRouter(tags=["ledger"])
ERRORS = {code: {"model": Problem} for code in (404, 422, 429)}


def _ledger(request: Request):
    return service_of(request).lab.ledger()


@router.get("/v1/log/checkpoint", response_model=Checkpoint, responses=ERRORS,
            summary="The signed checkpoint of the whole ledger")  # fmt: skip
def checkpoint(request: Request, key: ApiKey | None = Depends(public_caller)):
    from dflab.provenance.ledger import open_checkpoint

    ledger = _ledger(request)
    latest = ledger.latest_checkpoint()
    # sign only when the tree grew since the last checkpoint, so readers cannot make the log sign at will
    note = latest.note if latest is not None and latest.tree_size == ledger.size else ledger.checkpoint()
    parsed = open_checkpoint(note, ledger.signer.verifier)
    return {"tree_size": parsed.tree_size, "root": parsed.root.hex(), "checkpoint": note,
            "verifier_key": ledger.verifier_key}  # fmt: skip


@router.get("/v1/log/entries/{index}", response_model=Entry, responses=ERRORS, summary="One ledger record")
def entry(index: int, request: Request, key: ApiKey | None = Depends(public_caller)):
    ledger = _ledger(request)
    _check_index(ledger, index)
    return {"record_id": index, "leaf_hash": ledger.leaf_hash(index).hex(), "record": ledger.get_json(index)}


@router.get("/v1/log/entries/{index}/proof", response_model=InclusionProof, responses=ERRORS,
            summary="Inclusion proof of a record (against the latest checkpoint, or at tree_size)")  # fmt: skip
def inclusion(index: int, request: Request, tree_size: int | None = Query(None, ge=1),
              key: ApiKey | None = Depends(public_caller)):  # fmt: skip
    from dflab.provenance.ledger import merkle
    from dflab.provenance.ledger.bundle import INCLUSION_TYPE

    ledger = _ledger(request)
    _check_index(ledger, index)
    if tree_size is None:
        return ledger.prove(index)
    if not index < tree_size <= ledger.size:
        raise UsageError(f"tree_size must be above the record ({index}) and at most the ledger size ({ledger.size})")
    store = ledger.store
    leaf = store.get_leaf(index)
    leaf_hash = store.get_node(0, index)
    proof = merkle.inclusion_proof(index, tree_size, store.get_nodes)
    root = ledger.root(tree_size)
    merkle.verify_inclusion(index, tree_size, leaf_hash, proof, root)  # never hand out a bad proof
    signed = {c.tree_size: c.note for c in ledger.checkpoints()}
    return {"type": INCLUSION_TYPE, "origin": ledger.origin, "index": index, "tree_size": tree_size,
            "leaf_hash": leaf_hash.hex(), "proof": [h.hex() for h in proof], "root": root.hex(),
            "checkpoint": signed.get(tree_size), "record": json.loads(leaf)}  # fmt: skip


@router.get("/v1/log/consistency", response_model=ConsistencyProof, responses=ERRORS,
            summary="Consistency proof between two tree sizes")  # fmt: skip
def consistency(request: Request, first: int = Query(..., ge=0), second: int | None = Query(None, ge=0),
                key: ApiKey | None = Depends(public_caller)):  # fmt: skip
    return _ledger(request).consistency(first, second)


def _check_index(ledger, index: int) -> None:
    if not 0 <= index < ledger.size:
        raise NotFound(f"the ledger has no record {index} (it holds {ledger.size})")
