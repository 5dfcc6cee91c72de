"""`dflab db upgrade|status [--json]`: the lab database's schema migrations (SQLite or PostgreSQL).

The database is the one the lab uses: $DFLAB_DATABASE_URL (postgresql://... or sqlite:///PATH), else
$DFLAB_HOME/ledger.sqlite. See dflab/storage/migrations.py and docs/stores.md.
"""

from __future__ import annotations

import argparse

from dflab.cli.common import print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "db",
        help="database schema migrations (SQLite or PostgreSQL)",
        description="Versioned schema migrations of the lab's database ($DFLAB_DATABASE_URL, else "
        "$DFLAB_HOME/ledger.sqlite). PostgreSQL stores also apply pending migrations when they open.",
    )
    verbs = parser.add_subparsers(dest="db_command", metavar="VERB")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p = verbs.add_parser("upgrade", parents=[common], help="apply every pending migration (one transaction)")
    p.set_defaults(func=cmd_upgrade)
    p = verbs.add_parser("status", parents=[common], help="list applied and pending migrations")
    p.set_defaults(func=cmd_status)


def _database():
    from dflab.config import LabConfig
    from dflab.provenance.stores import open_database

    return open_database(LabConfig.from_env())


def _backend(database) -> str:
    from dflab.storage.postgres import PostgresDatabase

    return "postgresql" if isinstance(database, PostgresDatabase) else "sqlite"


def cmd_upgrade(args) -> int:
    from dflab.storage.migrations import applied_versions, upgrade

    database = _database()
    try:
        applied = upgrade(database)
        current = max(applied_versions(database), default=0)
        backend = _backend(database)
    finally:
        database.close()
    if args.json:
        print_json({"backend": backend, "applied": [{"version": m.version, "name": m.name} for m in applied],
                    "version": current})  # fmt: skip
    else:
        for m in applied:
            print(f"applied {m.version}: {m.name}")
        print(f"{backend} database at schema version {current}" + ("" if applied else " (nothing to do)"))
    return 0


def cmd_status(args) -> int:
    from dflab.storage.migrations import applied_versions, migrations_for

    database = _database()
    try:
        done = set(applied_versions(database))
        known = migrations_for(database)
        backend = _backend(database)
    finally:
        database.close()
    rows = [{"version": m.version, "name": m.name, "applied": m.version in done} for m in known]
    if args.json:
        print_json({"backend": backend, "migrations": rows, "pending": sum(not r["applied"] for r in rows)})
    else:
        for r in rows:
            print(f"{r['version']:>3}  {'applied' if r['applied'] else 'pending'}  {r['name']}")
    return 0
