"""`dflab consent keygen|create|verify`: signed consent statements for the maker (provenance/consent.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dflab.cli.common import print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("consent", help="create or check a signed consent statement (for dflab swap --consent)")
    sub = parser.add_subparsers(dest="consent_command", metavar="ACTION")
    keygen = sub.add_parser("keygen", help="write a new Ed25519 private key (PEM) for the person who consents")
    keygen.add_argument("out", metavar="KEY.pem")
    keygen.set_defaults(func=_keygen)
    create = sub.add_parser("create", help="write a consent statement signed with KEY.pem")
    create.add_argument("--subject", required=True, help="whose face (the person who signs)")
    create.add_argument("--use", required=True, help="what the face may be used for")
    create.add_argument("--until", required=True, metavar="YYYY-MM-DD", help="last day the consent holds")
    create.add_argument("--from", dest="valid_from", metavar="YYYY-MM-DD", help="first day (default: today)")
    create.add_argument("--key", required=True, metavar="KEY.pem", help="the signer's Ed25519 private key")
    create.add_argument("--out", required=True, metavar="CONSENT.json")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(func=_create)
    verify = sub.add_parser("verify", help="check a consent statement's signature and dates (exit 1 if not usable)")
    verify.add_argument("statement", metavar="CONSENT.json")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.set_defaults(func=_verify)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _new_file(path: Path, data: bytes, mode: int) -> None:
    from dflab.errors import UsageError

    if path.exists():
        raise UsageError(f"{path} already exists (choose another path)")
    if not path.parent.is_dir():
        raise UsageError(f"directory {path.parent} does not exist")
    with open(path, "xb") as fh:
        fh.write(data)
    path.chmod(mode)


def _keygen(args: argparse.Namespace) -> int:
    from dflab.provenance.consent import generate_key

    _new_file(Path(args.out), generate_key(), 0o600)
    print(f"wrote {args.out} (private: the person who consents keeps it)")
    return 0


def _create(args: argparse.Namespace) -> int:
    from dflab.errors import NotFound
    from dflab.provenance.consent import check_statement, create_statement

    key = Path(args.key)
    if not key.is_file():
        raise NotFound(f"key {key} does not exist (make one with `dflab consent keygen {key}`)")
    statement = create_statement(args.subject, args.use, args.until, key.read_bytes(), valid_from=args.valid_from)
    data = (json.dumps(statement, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    _new_file(Path(args.out), data, 0o644)
    check = check_statement(data)
    if args.json:
        print_json({"output": args.out, **check.to_json()})
    else:
        print(f"{args.out}: consent of {check.subject} for {check.use!r} until {check.valid_until}, signer {check.signer}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from dflab.provenance.consent import read_statement

    check = read_statement(args.statement)
    if args.json:
        print_json({"path": args.statement, **check.to_json()})
    elif check.valid:
        print(f"{args.statement}: VALID consent of {check.subject} for {check.use!r} "
              f"({check.valid_from} .. {check.valid_until}), signer {check.signer}")  # fmt: skip
    else:
        print(f"{args.statement}: NOT USABLE: {'; '.join(check.problems)}")
    return 0 if check.valid else 1
