"""The registry's two touch points with the ledger: append a "register" record, read a record back.

Both are plain callables so tests and other stores can stand in (`record_sink(fields) -> id`,
`record_source(id) -> dict | None`). The ledger is imported lazily; the registry works without one only
when the caller passes its own sink.
"""

from __future__ import annotations

from typing import Any, Callable

from dflab.errors import DflabError, Unsupported

RecordSink = Callable[[dict[str, Any]], int]
RecordSource = Callable[[int], "dict[str, Any] | None"]


def _ledger_module():
    try:
        from dflab.provenance import ledger
    except ImportError as exc:
        raise Unsupported(f"the ledger is not available ({exc}); cannot register without it") from exc
    if not hasattr(ledger, "open_ledger"):
        raise Unsupported("the ledger package has no open_ledger(); cannot register without it")
    return ledger


def ledger_sink(ledger_path=None) -> RecordSink:
    """A sink appending to the ledger at `ledger_path` (default: the one under DFLAB_HOME)."""

    def append(fields: dict[str, Any]) -> int:
        ledger_pkg = _ledger_module()
        from dflab.provenance.ledger.record import Record

        ledger = ledger_pkg.open_ledger(ledger_path)
        try:
            return int(ledger.append(Record(**fields)))
        finally:
            _close(ledger)

    return append


def ledger_source(ledger_path=None) -> RecordSource:
    """Reads records back for trace output; a missing ledger or record gives None, not an error."""

    def get(record_id: int) -> dict[str, Any] | None:
        try:
            ledger_pkg = _ledger_module()
            ledger = ledger_pkg.open_ledger(ledger_path)
        except DflabError:
            return None
        try:
            record = ledger.get(int(record_id))
        except DflabError:
            return None
        finally:
            _close(ledger)
        if record is None:
            return None
        return record.to_json() if hasattr(record, "to_json") else dict(record)

    return get


def _close(ledger) -> None:
    close = getattr(ledger, "close", None)
    if callable(close):
        close()


def sink_for(ledger) -> RecordSink:
    """A sink appending to an open ledger (the lab's): on the lab's database the append joins the registry's
    transaction, so the record and the registry rows commit together."""
    from dflab.provenance.ledger.record import Record

    def append(fields: dict[str, Any]) -> int:
        return int(ledger.append(Record(**fields)))

    return append


def source_for(ledger) -> RecordSource:
    """Reads records back from an open ledger; a missing record gives None."""

    def get(record_id: int) -> dict[str, Any] | None:
        try:
            return ledger.get(int(record_id)).to_json()
        except DflabError:
            return None

    return get
