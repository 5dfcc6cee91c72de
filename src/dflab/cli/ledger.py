"""`dflab ledger ...`: signed checkpoints, inclusion/consistency proofs and audits of the transparency ledger.

    dflab ledger status [--json]
    dflab ledger checkpoint [--json]
    dflab ledger show RECORD [--json]
    dflab ledger prove RECORD [--json] [--out PROOF.json]
    dflab ledger consistency OLD_SIZE [NEW_SIZE] [--json]
    dflab ledger verify PROOF.json [--key VERIFIER_KEY] [--json]     (offline: no database needed)
    dflab ledger verify --all [--against CHECKPOINT ...] [--json]     (exit 1: the ledger fails the audit)
    dflab ledger witness CHECKPOINT --key LOG_VERIFIER_KEY [--proof CONSISTENCY.json] [--out FILE] [--json]

Every command takes --db PATH (default: the lab's database, $DFLAB_HOME/ledger.sqlite). The latest signed
checkpoint is also kept beside the database (ledger.checkpoint) and rewritten after every append.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path

from dflab.atomic import write_text_atomic
from dflab.cli.common import print_json
from dflab.errors import IntegrityError, LimitExceeded, NotFound, UsageError

MAX_PROOF_FILE_BYTES = 8 * 1024 * 1024


def register(subparsers) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", help="ledger database (default: $DFLAB_HOME/ledger.sqlite)")
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    parser = subparsers.add_parser(
        "ledger",
        help="transparency ledger: checkpoints, proofs, audits",
        description="The append-only Merkle transparency ledger of media records (RFC 9162 proofs, C2SP signed "
        "checkpoints).",
    )
    verbs = parser.add_subparsers(dest="ledger_command", metavar="VERB")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    p = verbs.add_parser("status", parents=[common], help="size, root, latest checkpoint and verifier key")
    p.set_defaults(func=cmd_status)

    p = verbs.add_parser("checkpoint", parents=[common], help="sign, store and print a checkpoint of the tree")
    p.set_defaults(func=cmd_checkpoint)

    p = verbs.add_parser("show", parents=[common], help="print one record")
    p.add_argument("record", metavar="RECORD", help="record id (leaf index)")
    p.set_defaults(func=cmd_show)

    p = verbs.add_parser("prove", parents=[common], help="inclusion proof of a record against a signed checkpoint")
    p.add_argument("record", metavar="RECORD", help="record id (leaf index)")
    p.add_argument("--out", metavar="FILE", help="also write the proof JSON to FILE (must not exist)")
    p.set_defaults(func=cmd_prove)

    p = verbs.add_parser("consistency", parents=[common], help="consistency proof between two tree sizes")
    p.add_argument("old_size", metavar="OLD_SIZE")
    p.add_argument("new_size", metavar="NEW_SIZE", nargs="?", help="default: the current size")
    p.set_defaults(func=cmd_consistency)

    p = verbs.add_parser(
        "verify",
        parents=[common],
        help="check a proof file offline, or audit the whole ledger with --all",
        description="With PROOF.json: check it against its signed checkpoint using only the public verifier key "
        "(no database). With --all: recompute every leaf, node and root from the stored records and check every "
        "stored checkpoint.",
    )
    p.add_argument("proof", metavar="PROOF.json", nargs="?")
    p.add_argument("--all", action="store_true", help="audit the whole stored ledger")
    p.add_argument("--against", metavar="CHECKPOINT", action="append", default=[],
                   help="also hold the stored ledger to this signed checkpoint file (one published or cosigned "
                   "earlier); implies --all; repeatable")  # fmt: skip
    p.add_argument("--key", metavar="VERIFIER_KEY", help="verifier key string or file (default: $DFLAB_HOME/keys)")
    p.set_defaults(func=cmd_verify)

    p = verbs.add_parser(
        "witness",
        parents=[common],
        help="cosign another log's checkpoint (C2SP tlog-cosignature)",
        description="Check a log's signed checkpoint with the log's verifier key and its consistency with the last "
        "checkpoint of that log cosigned here (kept under $DFLAB_HOME/witness), then print it with this witness's "
        "cosignature added.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="the log's signed checkpoint (file)")
    p.add_argument("--key", metavar="LOG_VERIFIER_KEY", required=True, help="the log's verifier key string or file")
    p.add_argument("--proof", metavar="CONSISTENCY.json",
                   help="consistency proof from the last cosigned size (`dflab ledger consistency OLD NEW --json`)")  # fmt: skip
    p.add_argument("--name", default="dflab.local/witness", help="this witness's key name")
    p.add_argument("--out", metavar="FILE", help="also write the cosigned checkpoint to FILE (must not exist)")
    p.set_defaults(func=cmd_witness)


# ------------------------------------------------------------------------------------------------------------


def _int_arg(value: str, what: str) -> int:
    try:
        number = int(value, 10)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a non-negative integer, got {value!r}") from None
    if number < 0:
        raise UsageError(f"{what} must be a non-negative integer, got {value!r}")
    return number


@contextmanager
def _open(args):
    """The ledger in --db, or the lab's (its database, its checkpoint key)."""
    if args.db:
        from dflab.provenance.ledger import open_ledger

        with open_ledger(Path(args.db)) as ledger:
            yield ledger
        return
    from dflab.lab import Lab

    with Lab.default() as lab:
        yield lab.ledger()


def cmd_status(args) -> int:
    with _open(args) as ledger:
        latest = ledger.latest_checkpoint()
        info = {
            "size": ledger.size,
            "root": ledger.root().hex(),
            "checkpoints": len(ledger.checkpoints()),
            "latest_checkpoint_size": latest.tree_size if latest else None,
            "verifier_key": ledger.verifier_key if ledger.has_key else None,
            "checkpoint_file": str(ledger.checkpoint_file.path) if ledger.checkpoint_file is not None else None,
        }
    if args.json:
        print_json(info)
    else:
        for key, value in info.items():
            print(f"{key:24} {value if value is not None else '-'}")
    return 0


def cmd_checkpoint(args) -> int:
    from dflab.provenance.ledger import open_checkpoint

    with _open(args) as ledger:
        note = ledger.checkpoint()
        cp = open_checkpoint(note, ledger.signer.verifier)
        vkey = ledger.verifier_key
    if args.json:
        print_json({"tree_size": cp.tree_size, "root": cp.root.hex(), "checkpoint": note, "verifier_key": vkey})
    else:
        print(note, end="")
    return 0


def cmd_show(args) -> int:
    record_id = _int_arg(args.record, "RECORD")
    with _open(args) as ledger:
        record = ledger.get_json(record_id)
        leaf_hash = ledger.leaf_hash(record_id).hex()
    if args.json:
        print_json({"record_id": record_id, "leaf_hash": leaf_hash, "record": record})
    else:
        print(f"record {record_id}  (leaf hash {leaf_hash})")
        for key, value in record.items():
            print(f"  {key:18} {json.dumps(value, ensure_ascii=False)}")
    return 0


def cmd_prove(args) -> int:
    record_id = _int_arg(args.record, "RECORD")
    out = None
    if args.out:
        from dflab.cli.common import new_output_path

        out = new_output_path(args.out)
    with _open(args) as ledger:
        bundle = ledger.prove(record_id)
    if out is not None:
        write_text_atomic(out, json.dumps(bundle, indent=1, ensure_ascii=False) + "\n")
    if args.json:
        print_json(bundle)
    else:
        print(
            f"record {record_id} is leaf {bundle['index']} of {bundle['origin']} at tree size {bundle['tree_size']}"
            f"\n  root   {bundle['root']}\n  proof  {len(bundle['proof'])} hashes"
            + (f"\n  written to {out}" if out else "\n  (use --json or --out to get the proof file)")
        )
    return 0


def cmd_consistency(args) -> int:
    old_size = _int_arg(args.old_size, "OLD_SIZE")
    new_size = None if args.new_size is None else _int_arg(args.new_size, "NEW_SIZE")
    with _open(args) as ledger:
        bundle = ledger.consistency(old_size, new_size)
    if args.json:
        print_json(bundle)
    else:
        print(
            f"tree {bundle['old_size']} -> {bundle['new_size']}: {len(bundle['proof'])} proof hashes\n"
            f"  old root {bundle['old_root']}\n  new root {bundle['new_root']}"
        )
    return 0


def cmd_verify(args) -> int:
    audit = args.all or bool(args.against)
    if audit == bool(args.proof):
        raise UsageError("give either a PROOF.json file or --all (or --against CHECKPOINT)")
    if audit:
        if args.key:
            raise UsageError("--key is for proof files; --all checks with the ledger's own key")
        return _audit(args)

    from dflab.provenance.ledger import verify_proof
    from dflab.provenance.ledger.signing import default_verifier, parse_verifier_arg

    bundle = _read_proof_file(Path(args.proof))
    verifier = parse_verifier_arg(args.key) if args.key else default_verifier()
    summary = verify_proof(bundle, verifier)
    if args.json:
        print_json(summary)
    elif summary["kind"] == "inclusion":
        print(
            f"OK: record {summary['index']} is in {summary['origin']} at tree size {summary['tree_size']} "
            f"(checkpoint signed by {summary['key']})"
        )
    else:
        signed = ", ".join(summary["signed"]) or "no"
        print(f"OK: tree {summary['old_size']} is a prefix of tree {summary['new_size']} ({signed} signed checkpoints)")
    return 0


def _audit(args) -> int:
    """Exit 0: the stored ledger checks out; exit 1: it does not (one line naming what failed)."""
    from dflab.provenance.ledger import open_checkpoint
    from dflab.provenance.ledger.checkpoint_file import read_note_file

    with _open(args) as ledger:
        against = []
        for name in args.against:
            note = read_note_file(Path(name))
            try:
                open_checkpoint(note, ledger.verifier, ledger.origin)  # not this ledger's: a wrong argument
            except IntegrityError as exc:
                raise UsageError(f"--against {name} is not a checkpoint signed by this ledger: {exc}") from None
            against.append((note, f"--against {name}"))
        try:
            summary = ledger.verify_all(against=against)
        except IntegrityError as exc:
            if args.json:
                print_json({"ok": False, "problem": str(exc)})
            else:
                print(f"dflab ledger verify: FAILED: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print_json(summary)
    else:
        external = summary["external_checkpoint_size"]
        print(
            f"OK: {summary['records']} records, {summary['nodes_checked']} tree nodes, {summary['columns_checked']} "
            f"lookup rows and {summary['checkpoints']} stored checkpoints verified; root {summary['root']}"
            + (f"\n    checkpoint file {summary['checkpoint_file']} (size {external}) matches" if external is not None
               else "")
            + "".join(f"\n    {where} matches" for where in summary["checked_against"])
            + (f"\n    {summary['unsigned_records']} newest records are not yet covered by a checkpoint"
               if summary["unsigned_records"] else "")
        )  # fmt: skip
    return 0


def cmd_witness(args) -> int:
    from dflab.lab import Lab
    from dflab.provenance.ledger.checkpoint_file import read_note_file
    from dflab.provenance.ledger.signing import parse_verifier_arg
    from dflab.provenance.ledger.witness import Witness

    out = None
    if args.out:
        from dflab.cli.common import new_output_path

        out = new_output_path(args.out)
    note = read_note_file(Path(args.checkpoint))
    log_key = parse_verifier_arg(args.key)
    with Lab.default() as lab:
        witness_dir = lab.witness_dir
    witness = Witness(witness_dir, name=args.name)
    proof = _consistency_proof_arg(args.proof, witness, note, log_key) if args.proof else None
    result = witness.cosign(note, log_key, proof)
    if out is not None:
        write_text_atomic(out, result["checkpoint"])
    if args.json:
        print_json(result)
    else:
        print(result["checkpoint"], end="")
    return 0


def _consistency_proof_arg(path: str, witness, note: str, log_key) -> list[bytes]:
    """The proof hashes of a consistency bundle, after checking it spans the sizes the witness needs."""
    from dflab.provenance.ledger import open_checkpoint

    bundle = _read_proof_file(Path(path))
    new = open_checkpoint(note, log_key)
    previous = witness.last_cosigned(new.origin, log_key)
    if not isinstance(bundle, dict) or not isinstance(bundle.get("proof"), list):
        raise UsageError(f"{path} is not a consistency proof (`dflab ledger consistency OLD NEW --json`)")
    old_size = previous.tree_size if previous is not None else 0
    if (bundle.get("old_size"), bundle.get("new_size")) != (old_size, new.tree_size):
        raise UsageError(
            f"{path} proves {bundle.get('old_size')} -> {bundle.get('new_size')}, but the witness needs "
            f"{old_size} -> {new.tree_size}"
        )
    try:
        return [bytes.fromhex(h) for h in bundle["proof"]]
    except (TypeError, ValueError):
        raise IntegrityError(f"{path}: proof hashes must be hex strings") from None


def _read_proof_file(path: Path):
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"proof file {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read proof file {path}: {exc.strerror}") from None
    if size > MAX_PROOF_FILE_BYTES:
        raise LimitExceeded(f"proof file {path} is {size} bytes; proofs are far smaller (limit {MAX_PROOF_FILE_BYTES})")
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"proof file {path} is not valid JSON ({exc})") from None
    except OSError as exc:
        raise UsageError(f"cannot read proof file {path}: {exc.strerror}") from None
