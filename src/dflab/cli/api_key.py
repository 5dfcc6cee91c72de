"""`dflab api-key create NAME [--json]`, `list`, `revoke NAME`: the keys that may write to `dflab serve`."""

from __future__ import annotations

import argparse
import datetime as dt

from dflab.cli.common import print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("api-key", help="create, list or revoke API keys for `dflab serve`")
    sub = parser.add_subparsers(dest="api_key_command", metavar="ACTION")
    create = sub.add_parser("create", help="make a key (printed once; only its hash is kept)")
    create.add_argument("name", metavar="NAME", help="who the key is for (letters, digits, . _ @ -)")
    create.add_argument("--json", action="store_true", help="print {name, key}")
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="list keys (names and hints, never the keys)")
    listing.add_argument("--json", action="store_true", help="one JSON object")
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke the active key of NAME")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(func=_revoke)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _stores():
    from dflab.config import LabConfig
    from dflab.serve.stores import open_service_stores

    return open_service_stores(LabConfig.from_env())


def _create(args: argparse.Namespace) -> int:
    stores = _stores()
    try:
        key = stores.keys.create(args.name)
    finally:
        stores.close()
    if args.json:
        print_json({"name": args.name, "key": key})
    else:
        print(key)
        print(f"(the API key for {args.name}; it is not shown again)", flush=True)
    return 0


def _list(args: argparse.Namespace) -> int:
    stores = _stores()
    try:
        keys = stores.keys.list()
    finally:
        stores.close()
    rows = [{"name": k.name, "hint": k.hint, "created_at": _when(k.created_at), "revoked_at": _when(k.revoked_at)}
            for k in keys]  # fmt: skip
    if args.json:
        print_json({"keys": rows})
    else:
        for row in rows:
            state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
            print(f"{row['name']:24s} {row['hint']}...  created {row['created_at']}  {state}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from dflab.errors import NotFound

    stores = _stores()
    try:
        if not stores.keys.revoke(args.name):
            raise NotFound(f"no active API key named {args.name!r}")
    finally:
        stores.close()
    print(f"revoked the API key of {args.name}")
    return 0


def _when(stamp: float | None) -> str | None:
    return None if stamp is None else dt.datetime.fromtimestamp(stamp, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
