"""What the SQLite and PostgreSQL ledger stores share: the reads and the checkpoint insert, over one schema
(storage/migrations.py). Each backend supplies its placeholder, how rows are fetched and how it writes appends
(SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock and COPY)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from dflab.errors import NotFound
from dflab.provenance.ledger import merkle
from dflab.provenance.ledger.store import LeafEntry, StoredCheckpoint


class SQLLedgerStore:
    """Reads of the `leaves`, `nodes` and `checkpoints` tables. SQL is written with `?`; `PARAM` replaces it."""

    PARAM = "?"
    database = None  # the backend's SQLiteDatabase or PostgresDatabase, set by its constructor
    _owns_database = False

    def _sql(self, sql: str) -> str:
        return sql if self.PARAM == "?" else sql.replace("?", self.PARAM)

    def _fetch(self, sql: str, args: Sequence = ()) -> list[tuple]:
        return self.database.execute(self._sql(sql), args).fetchall()

    # --- reads -------------------------------------------------------------------------------------------

    def size(self) -> int:
        value = self._fetch("SELECT MAX(idx) FROM leaves")[0][0]
        return 0 if value is None else int(value) + 1

    def get_leaf(self, index: int) -> bytes:
        rows = self._fetch("SELECT data FROM leaves WHERE idx = ?", (index,))
        if not rows:
            raise NotFound(f"ledger record {index} does not exist (the ledger has {self.size()} records)")
        return _as_bytes(rows[0][0])

    def iter_leaves(self, start: int, end: int, chunk: int = 4096) -> Iterator[tuple[int, bytes]]:
        for idx, (data,) in self._chunks("data", start, end, chunk):
            yield idx, _as_bytes(data)

    def iter_leaf_entries(self, start: int, end: int, chunk: int = 4096) -> Iterator[tuple[int, LeafEntry]]:
        for idx, (data, content, watermark) in self._chunks("data, content_sha256, watermark", start, end, chunk):
            yield idx, LeafEntry(_as_bytes(data), bytes(content).hex(), watermark)

    def _chunks(self, columns: str, start: int, end: int, chunk: int) -> Iterator[tuple[int, tuple]]:
        """(idx, other columns) of the leaves in [start, end), read `chunk` rows per query."""
        pos = max(0, start)
        while pos < end:
            rows = self._fetch(f"SELECT idx, {columns} FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
                               (pos, min(end, pos + chunk)))  # fmt: skip
            if not rows:
                return
            for row in rows:
                yield int(row[0]), row[1:]
            pos = int(rows[-1][0]) + 1

    def get_node(self, level: int, index: int) -> bytes:
        rows = self._fetch("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index))
        if not rows:
            raise NotFound(f"ledger node ({level}, {index}) is not stored")
        return bytes(rows[0][0])

    def get_nodes(self, keys: Sequence[merkle.NodeKey]) -> list[bytes]:
        return [self.get_node(level, idx) for level, idx in keys]

    def node_range(self, level: int, start: int, end: int) -> list[bytes]:
        rows = self._fetch("SELECT hash FROM nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
                           (level, start, end))  # fmt: skip
        return [bytes(r[0]) for r in rows]

    def find_leaves(self, *, content_sha256: str | None = None, watermark_payload: str | None = None) -> list[int]:
        where, args = [], []
        if content_sha256 is not None:
            try:
                key = bytes.fromhex(content_sha256)
            except ValueError:
                return []
            where.append("content_sha256 = ?")
            args.append(key)
        if watermark_payload is not None:
            where.append("watermark = ?")
            args.append(watermark_payload)
        sql = "SELECT idx FROM leaves" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY idx"
        return [int(r[0]) for r in self._fetch(sql, args)]

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._fetch("SELECT tree_size, root, note, created FROM checkpoints ORDER BY id")
        return [StoredCheckpoint(int(s), bytes(r), str(n), str(c)) for s, r, n, c in rows]

    # --- writes ------------------------------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self.database.transaction():
            self.database.execute(self._sql("INSERT INTO checkpoints (tree_size, root, note, created) VALUES (?, ?, ?, ?)"),
                                  (checkpoint.tree_size, checkpoint.root, checkpoint.note, checkpoint.created))  # fmt: skip

    def close(self) -> None:
        if self._owns_database:
            self.database.close()


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)
