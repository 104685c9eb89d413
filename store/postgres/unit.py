"""The PostgreSQL store's unit of work.

Writes are kept in the unit (with an undo log for savepoints) and read back from it; anything
else is read from the database. At commit one short transaction locks the ``feed_head`` row, takes
the next seqs and extends the audit chain from the head it holds, writes every document with a
compare-and-set on the version each was read at, and commits. The row lock is taken last and held
only for that flush, and PostgreSQL makes a commit visible before it releases its locks, so seqs
become visible strictly in order (ADR 0024).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..audit import canonical, make_line
from ..base import JSON, CommitResult, Document, DuplicateKey, StoreError, UnitOfWork, VersionConflict, Written
from ..tinystore.records import MISSING, Key, Rec, check_name, dump_data, now

if TYPE_CHECKING:
    import psycopg

    from .store import PostgresStore


class PgUnitOfWork(UnitOfWork):
    def __init__(self, store: PostgresStore, conn: psycopg.Connection):
        self._store = store
        self._conn = conn
        self._pending: dict[Key, Rec | None] = {}  # None: hard delete
        self._base: dict[Key, Rec | None] = {}  # committed state when first read (what CAS checks)
        self._undo: list[tuple[Key, Any]] = []
        self._audit: list[tuple[str | None, JSON]] = []
        self._base_seq = store._head_seq(conn)
        self._next_seq = self._base_seq  # provisional: final seqs are taken at commit
        self._open = True
        self.result: CommitResult | None = None

    # -- reads -----------------------------------------------------------------
    def _committed(self, key: Key) -> Rec | None:
        if key not in self._base:
            self._base[key] = self._store._read(self._conn, key)
        return self._base[key]

    def prefetch(self, keys: Iterable[Key]) -> None:
        """Read every key not read yet in one statement (one round trip instead of one each)."""
        self._check()
        todo = list(dict.fromkeys(k for k in keys if k not in self._base and k not in self._pending))
        if not todo:
            return
        rows = self._conn.execute(
            "SELECT t.collection, t.id, t.version, t.seq, t.deleted, t.data::text FROM documents AS t "
            "JOIN unnest(%b::text[], %b::text[]) AS u(c, i) ON t.collection = u.c AND t.id = u.i",
            ([c for c, _ in todo], [i for _, i in todo])).fetchall()
        found = {(c, i): Rec(v, s, d, text) for c, i, v, s, d, text in rows}
        for key in todo:
            self._base[key] = found.get(key)

    def _current(self, key: Key) -> Rec | None:
        if key in self._pending:
            return self._pending[key]
        return self._committed(key)

    def _check(self) -> None:
        if not self._open:
            raise StoreError("this unit of work has ended; start a new store.transaction()")

    def get(self, collection: str, doc_id: str) -> Document | None:
        self._check()
        rec = self._current((collection, doc_id))
        if rec is None or rec.deleted:
            return None
        return Document(collection, doc_id, rec.version, json.loads(rec.data), rec.seq)  # type: ignore[arg-type]

    # -- writes ----------------------------------------------------------------
    def _seq_for(self, key: Key, publish: bool) -> int:
        if not publish:
            return 0
        prev = self._pending.get(key)
        if prev is not None and prev.seq > self._base_seq:
            return prev.seq  # written earlier in this unit: keep its position
        self._next_seq += 1
        return self._next_seq

    def _set(self, key: Key, rec: Rec | None) -> None:
        self._undo.append((key, self._pending.get(key, MISSING)))
        self._pending[key] = rec

    def insert(self, collection: str, doc_id: str, data: Mapping[str, Any], *, publish: bool = False) -> Document:
        self._check()
        check_name("collection", collection)
        check_name("document id", doc_id)
        text = dump_data(data)
        key = (collection, doc_id)
        if self._current(key) is not None:
            raise DuplicateKey(collection, doc_id)
        rec = Rec(1, self._seq_for(key, publish), False, text)
        self._set(key, rec)
        return Written(collection, doc_id, 1, text, rec.seq, json.loads)

    def _expect(self, key: Key, expected_version: int) -> Rec:
        cur = self._current(key)
        if cur is None or cur.deleted:
            raise VersionConflict(*key, expected_version, 0)
        if cur.version != expected_version:
            raise VersionConflict(*key, expected_version, cur.version)
        return cur

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any], *, expected_version: int,
               publish: bool = False) -> Document:
        self._check()
        text = dump_data(data)
        key = (collection, doc_id)
        cur = self._expect(key, expected_version)
        rec = Rec(cur.version + 1, self._seq_for(key, publish), False, text)
        self._set(key, rec)
        return Written(collection, doc_id, rec.version, text, rec.seq, json.loads)

    def delete(self, collection: str, doc_id: str, *, expected_version: int, publish: bool = False) -> None:
        self._check()
        key = (collection, doc_id)
        cur = self._expect(key, expected_version)
        if publish:
            self._set(key, Rec(cur.version + 1, self._seq_for(key, True), True, None))
        else:
            self._set(key, None)

    def audit(self, entry: Mapping[str, Any], *, subject: str | None = None) -> None:
        self._check()
        if not isinstance(entry, Mapping):
            raise TypeError(f"audit entry must be a mapping, not {type(entry).__name__}")
        if subject is not None and not isinstance(subject, str):
            raise TypeError("audit subject must be a string or None")
        self._audit.append((subject, json.loads(canonical(dict(entry)))))

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._check()
        mark = (len(self._undo), self._next_seq, len(self._audit))
        try:
            yield
        except BaseException:
            n_undo, next_seq, n_audit = mark
            while len(self._undo) > n_undo:
                key, prev = self._undo.pop()
                if prev is MISSING:
                    del self._pending[key]
                else:
                    self._pending[key] = prev
            self._next_seq = next_seq
            del self._audit[n_audit:]
            raise

    # -- commit ----------------------------------------------------------------
    def _commit(self) -> None:
        inserts, updates, deletes = [], [], []
        published: list[Key] = []  # in provisional seq order
        for key, rec in self._pending.items():
            base = self._base.get(key)
            if rec is None:
                if base is not None:
                    deletes.append((key, base.version))
            elif base is None:
                inserts.append((key, rec))
            else:
                updates.append((key, rec, base.version))
            if rec is not None and rec.seq:
                published.append(key)
        if not (inserts or updates or deletes or self._audit):
            self.result = CommitResult(self._store._head_seq(self._conn), [])
            return
        published.sort(key=lambda k: self._pending[k].seq)  # type: ignore[union-attr]
        conn = self._conn
        with conn.transaction():
            # the lock, taken last: every lower seq is visible once we hold it
            last_seq, audit_n, head = conn.execute(
                "UPDATE feed_head SET last_seq = last_seq + %s, audit_n = audit_n + %s, units = units + 1 "
                "RETURNING last_seq - %s, audit_n - %s, audit_head",
                (len(published), len(self._audit), len(published), len(self._audit))).fetchone()
            final = {k: last_seq + i for i, k in enumerate(published, 1)}
            audit_rows = []
            if self._audit:
                at = now()
                for subject, entry in self._audit:
                    audit_n += 1
                    line, head = make_line(head, audit_n, at, subject, entry)
                    audit_rows.append((audit_n, subject, line))
            # one statement per kind of write, all sent in one pipeline: a few round trips under the
            # lock whatever the unit's size (ADR 0030); arrays go binary (%b): the text array format
            # escapes every quote of every JSON body with a regex callback
            with conn.pipeline():
                ins = _send(conn, _INSERT, _columns([(*k, r.version, final.get(k, 0), r.deleted, r.data)
                                                     for k, r in inserts], 6)) if inserts else None
                upd = _send(conn, _UPDATE, _columns([(*k, r.version, final.get(k, 0), r.deleted, r.data, e)
                                                     for k, r, e in updates], 7)) if updates else None
                dele = _send(conn, _DELETE, _columns([(*k, e) for k, e in deletes], 3)) if deletes else None
                if audit_rows:
                    _send(conn, _AUDIT, (*_columns(audit_rows, 3), head))
            if ins is not None:
                _check_all(ins, [k for k, _ in inserts], lambda key: DuplicateKey(*key))
            for cur, rows in ((upd, [(k, e) for k, _, e in updates]), (dele, deletes)):
                if cur is not None:
                    expected = dict(rows)
                    _check_all(cur, list(expected), lambda key, expected=expected: VersionConflict(
                        *key, expected[key], self._store._version(conn, key)))
        docs = [Document(k[0], k[1], r.version, {} if r.deleted else json.loads(r.data), final.get(k, 0),  # type: ignore[arg-type]
                         r.deleted) for k, r in [*inserts, *((k, r) for k, r, _ in updates)]]
        self.result = CommitResult(last_seq + len(published), docs)


_INSERT = ("INSERT INTO documents (collection, id, version, seq, deleted, data) "
           "SELECT c, i, v, s, d, j::jsonb FROM unnest(%b::text[], %b::text[], %b::int[], %b::bigint[], "
           "%b::bool[], %b::text[]) AS u(c, i, v, s, d, j) ON CONFLICT DO NOTHING RETURNING collection, id")
_UPDATE = ("UPDATE documents AS t SET version = u.v, seq = u.s, deleted = u.d, data = u.j::jsonb "
           "FROM unnest(%b::text[], %b::text[], %b::int[], %b::bigint[], %b::bool[], %b::text[], %b::int[]) "
           "AS u(c, i, v, s, d, j, e) "
           "WHERE t.collection = u.c AND t.id = u.i AND t.version = u.e AND NOT t.deleted "
           "RETURNING t.collection, t.id")
_DELETE = ("DELETE FROM documents AS t USING unnest(%b::text[], %b::text[], %b::int[]) AS u(c, i, e) "
           "WHERE t.collection = u.c AND t.id = u.i AND t.version = u.e AND NOT t.deleted "
           "RETURNING t.collection, t.id")
_AUDIT = ("WITH a AS (INSERT INTO audit (n, subject, line) "
          "SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[])) "
          "UPDATE feed_head SET audit_head = %s")


def _columns(rows: list[tuple], width: int) -> tuple[list, ...]:
    """Rows as one list per column (the arrays ``unnest`` takes back apart)."""
    return tuple([r[c] for r in rows] for c in range(width)) if rows else tuple([] for _ in range(width))


def _send(conn: psycopg.Connection, sql: str, params: tuple) -> psycopg.Cursor:
    cur = conn.cursor()
    cur.execute(sql, params)  # type: ignore[arg-type]
    return cur


def _check_all(cur: psycopg.Cursor, keys: list[Key], error) -> None:
    """Raise ``error(key)`` for the first key the statement did not write (rolls the unit back)."""
    done = {tuple(r) for r in cur.fetchall()}
    if len(done) != len(keys):
        raise error(next(k for k in keys if k not in done))
