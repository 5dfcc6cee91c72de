"""LedgerStore on PostgreSQL: one consistent log however many processes (on however many machines) append.

Appenders are serialised by a transaction-scoped advisory lock taken before the current size is read, the
PostgreSQL counterpart of SQLite's BEGIN IMMEDIATE (the same lock as the registry's writes, storage/postgres.py): two writers never compute nodes from the same size, and the
lock goes away with the transaction (COMMIT, ROLLBACK, or the server noticing a SIGKILLed client), so a crash
never leaves it held or a batch half written. Inside a transaction the caller opened on the same database
(registering a file: ledger record + registry rows) the append joins it and the lock is held until that
transaction ends. Reads need no lock: they see committed rows only. Tables: storage/migrations.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from dflab.errors import NotFound, UsageError
from dflab.provenance.ledger import merkle
from dflab.provenance.ledger.store import LeafEntry, StoredCheckpoint, plan_nodes
from dflab.storage.postgres import WRITE_LOCK, PostgresDatabase


class PostgresLedgerStore:
    """LedgerStore over PostgreSQL: its own connection pool for `url`, or the tables inside a shared `database`."""

    def __init__(self, url: str | None = None, *, database: PostgresDatabase | None = None) -> None:
        if (url is None) == (database is None):
            raise UsageError("give the ledger store either a database URL or a database")
        from dflab.storage.migrations import upgrade

        self._owns_database = database is None
        self.database = database or PostgresDatabase(url, label="ledger")
        self.path = self.database.where  # named in messages, like SQLiteStore.path
        try:
            upgrade(self.database)
        except BaseException:
            self.close()
            raise

    def _rows(self, sql: str, args=None) -> list[tuple]:
        return self.database.execute(sql, args).fetchall()

    # --- reads -------------------------------------------------------------------------------------------

    def size(self) -> int:
        value = self._rows("SELECT MAX(idx) FROM leaves")[0][0]
        return 0 if value is None else int(value) + 1

    def get_leaf(self, index: int) -> bytes:
        rows = self._rows("SELECT data FROM leaves WHERE idx = %s", (index,))
        if not rows:
            raise NotFound(f"ledger record {index} does not exist (the ledger has {self.size()} records)")
        return rows[0][0].encode("utf-8")

    def iter_leaves(self, start: int, end: int, chunk: int = 4096) -> Iterator[tuple[int, bytes]]:
        pos = max(0, start)
        while pos < end:
            rows = self._rows("SELECT idx, data FROM leaves WHERE idx >= %s AND idx < %s ORDER BY idx",
                              (pos, min(end, pos + chunk)))  # fmt: skip
            if not rows:
                return
            for idx, data in rows:
                yield int(idx), data.encode("utf-8")
            pos = int(rows[-1][0]) + 1

    def iter_leaf_entries(self, start: int, end: int, chunk: int = 4096) -> Iterator[tuple[int, LeafEntry]]:
        pos = max(0, start)
        while pos < end:
            rows = self._rows("SELECT idx, data, content_sha256, watermark FROM leaves WHERE idx >= %s AND idx < %s"
                              " ORDER BY idx", (pos, min(end, pos + chunk)))  # fmt: skip
            if not rows:
                return
            for idx, data, content, watermark in rows:
                yield int(idx), LeafEntry(data.encode("utf-8"), bytes(content).hex(), watermark)
            pos = int(rows[-1][0]) + 1

    def get_node(self, level: int, index: int) -> bytes:
        rows = self._rows("SELECT hash FROM nodes WHERE level = %s AND idx = %s", (level, index))
        if not rows:
            raise NotFound(f"ledger node ({level}, {index}) is not stored")
        return bytes(rows[0][0])

    def get_nodes(self, keys: Sequence[merkle.NodeKey]) -> list[bytes]:
        if not keys:
            return []
        # One round trip for a whole proof path instead of one per node.
        levels = [int(level) for level, _ in keys]
        indexes = [int(idx) for _, idx in keys]
        rows = self._rows(
            "SELECT n.level, n.idx, n.hash FROM nodes n JOIN unnest(%s::int[], %s::bigint[]) AS k(level, idx)"
            " ON n.level = k.level AND n.idx = k.idx",
            (levels, indexes),
        )
        found = {(int(level), int(idx)): bytes(h) for level, idx, h in rows}
        out = []
        for key in keys:
            value = found.get((int(key[0]), int(key[1])))
            if value is None:
                raise NotFound(f"ledger node ({key[0]}, {key[1]}) is not stored")
            out.append(value)
        return out

    def node_range(self, level: int, start: int, end: int) -> list[bytes]:
        rows = self._rows("SELECT hash FROM nodes WHERE level = %s AND idx >= %s AND idx < %s ORDER BY idx",
                          (level, start, end))  # fmt: skip
        return [bytes(r[0]) for r in rows]

    def find_leaves(self, *, content_sha256: str | None = None, watermark_payload: str | None = None) -> list[int]:
        where, args = [], []
        if content_sha256 is not None:
            try:
                key = bytes.fromhex(content_sha256)
            except ValueError:
                return []
            where.append("content_sha256 = %s")
            args.append(key)
        if watermark_payload is not None:
            where.append("watermark = %s")
            args.append(watermark_payload)
        sql = "SELECT idx FROM leaves" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY idx"
        return [int(r[0]) for r in self._rows(sql, args)]

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._rows("SELECT tree_size, root, note, created FROM checkpoints ORDER BY id")
        return [StoredCheckpoint(int(s), bytes(r), str(n), str(c)) for s, r, n, c in rows]

    # --- writes ------------------------------------------------------------------------------------------

    def append_batch(self, entries: Sequence[LeafEntry]) -> int:
        if not entries:
            return self.size()
        db = self.database
        with db.transaction():
            db.advisory_lock(WRITE_LOCK)
            start = self.size()  # read under the lock: nobody else can append until this transaction ends
            rows = plan_nodes(start, entries, self.get_nodes)
            # COPY rather than INSERTs: one stream per table, about twice the appends per second.
            with db.connection.cursor() as cur:
                with cur.copy("COPY leaves (idx, data, content_sha256, watermark) FROM STDIN") as copy:
                    for i, e in enumerate(entries):
                        copy.write_row((start + i, e.data.decode("utf-8"), bytes.fromhex(e.content_sha256),
                                        e.watermark_payload))  # fmt: skip
                with cur.copy("COPY nodes (level, idx, hash) FROM STDIN") as copy:
                    for node in rows:
                        copy.write_row(node)
        return start

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self.database.transaction():
            self.database.execute(
                "INSERT INTO checkpoints (tree_size, root, note, created) VALUES (%s, %s, %s, %s)",
                (checkpoint.tree_size, checkpoint.root, checkpoint.note, checkpoint.created),
            )

    def close(self) -> None:
        if self._owns_database:
            self.database.close()
