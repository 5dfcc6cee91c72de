"""`dflab keys init [--force]` and `dflab keys show [--json]`: the local C2PA signing CA."""

from __future__ import annotations

import argparse

from dflab.cli.common import print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("keys", help="create or show the local C2PA signing keys")
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION")
    init = sub.add_parser("init", help="create a local signing CA and certificate under $DFLAB_HOME/keys")
    init.add_argument("--force", action="store_true", help="replace existing keys (old signatures stop being trusted)")
    init.add_argument("--json", action="store_true", help="print one JSON object")
    init.set_defaults(func=_init)
    show = sub.add_parser("show", help="show the certificates of the local key set")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(func=_show)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _init(args: argparse.Namespace) -> int:
    from dflab.provenance.keys import describe_keys, init_keys

    paths = init_keys(force=args.force)
    info = describe_keys()
    if args.json:
        print_json({"created": True, **info})
    else:
        print(f"created signing keys in {paths.root}")
        print(f"  CA      {info['ca']['subject']}  sha256 {info['ca']['sha256'][:16]}...")
        print(f"  signer  {info['signer']['subject']}  valid until {info['signer']['not_after']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from dflab.provenance.keys import describe_keys

    info = describe_keys()
    if args.json:
        print_json(info)
        return 0
    print(f"keys in {info['dir']}")
    for role in ("ca", "signer"):
        cert = info[role]
        print(f"  {role:6s}  {cert['subject']}")
        print(f"          issuer {cert['issuer']}, serial {cert['serial']}")
        print(f"          valid {cert['not_before']} .. {cert['not_after']}")
        mode = cert["key_mode"] or "key file missing"
        print(f"          sha256 {cert['sha256']}, key {cert['key_file']} ({mode})")
    return 0
