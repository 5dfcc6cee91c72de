"""`dflab db status|upgrade` on SQLite and PostgreSQL: pending migrations applied once, in order; a database
written by a newer dflab refused in one line."""

from __future__ import annotations

import json

import pytest

from dflab.cli.main import main


@pytest.fixture(params=["sqlite", "postgres"])
def database_env(request, monkeypatch, tmp_path):
    if request.param == "postgres":
        monkeypatch.setenv("DFLAB_DATABASE_URL", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.setenv("DFLAB_DATABASE_URL", f"sqlite://{tmp_path / 'lab.sqlite'}")
    return request.param


def _json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_upgrade_applies_pending_migrations_once(database_env, capsys):
    status = _json(capsys, "db", "status", "--json")
    assert status["backend"] == ("postgresql" if database_env == "postgres" else "sqlite")
    assert status["pending"] == len(status["migrations"]) >= 2
    applied = _json(capsys, "db", "upgrade", "--json")
    assert [m["version"] for m in applied["applied"]] == [m["version"] for m in status["migrations"]]
    assert _json(capsys, "db", "upgrade", "--json")["applied"] == []
    assert _json(capsys, "db", "status", "--json")["pending"] == 0

    from dflab.lab import Lab

    with Lab.default() as lab:  # the stores open on the upgraded database and work
        assert lab.ledger().size == 0 and lab.registry_store.count_hashes() == 0


def test_a_database_from_a_newer_dflab_is_refused(database_env, capsys):
    from dflab.config import LabConfig
    from dflab.provenance.stores import open_database

    assert main(["db", "upgrade"]) == 0
    database = open_database(LabConfig.from_env())
    mark = "%s" if database_env == "postgres" else "?"
    with database.transaction():
        database.execute(f"INSERT INTO schema_migrations VALUES (999, {mark}, {mark})", ("future", "2099-01-01"))
    database.close()
    capsys.readouterr()
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "schema version 999" in err and len(err.strip().splitlines()) == 1
