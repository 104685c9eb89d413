"""``PostgresStore``: the store interface on PostgreSQL (psycopg 3, psycopg-pool). Design: ADR 0024,
docs/store.md ("The PostgreSQL store").

Connections come from a pool created when the store is opened, so a server process must open the
store after it has forked (gunicorn without ``--preload``). Every connection runs in autocommit
with ``synchronous_commit=on``; a unit of work is one explicit transaction at commit.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ..audit import genesis, parse_line
from ..base import JSON, AuditEntry, Document, Store, StoreError, UnitOfWork
from ..tinystore.records import Key, Rec
from .schema import migrate
from .unit import PgUnitOfWork

_COLUMNS = "collection, id, version, seq, deleted, data::text"


def _rec(row: tuple) -> Rec:
    version, seq, deleted, data = row
    return Rec(version, seq, deleted, data)


def is_postgres_url(target: Any) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    user, host, port, db = (info.get(k, "") for k in ("user", "host", "port", "dbname"))
    return f"postgresql://{user}@{host}:{port or 5432}/{db}"


class PostgresStore(Store):
    """The store in a PostgreSQL database given by ``url`` (``postgresql://USER@HOST:PORT/DB``).
    ``pool_size``: connections this process keeps (each gunicorn worker has its own pool);
    ``store_id``: the id a new, empty database takes (a copy keeps its source's id);
    ``scan_batch``: documents ``scan`` reads per query (a collection up to this size is read at once)."""

    def __init__(self, url: str, *, pool_size: int = 4, store_id: str | None = None, create: bool = True,
                 scan_batch: int = 1000):
        self.url = url
        self.scan_batch = max(1, scan_batch)
        self._closed = False
        self._local = threading.local()
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                migrate(conn)
                self.store_id = self._init_meta(conn, store_id, create)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot open the PostgreSQL store at {redact(url)}: {exc}") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=max(1, pool_size), open=True, timeout=30,
                                    kwargs={"autocommit": True, "options": "-c synchronous_commit=on"},
                                    name="caseflow-store")

    @staticmethod
    def _init_meta(conn: psycopg.Connection, store_id: str | None, create: bool) -> str:
        with conn.transaction():
            conn.execute("LOCK TABLE feed_head IN EXCLUSIVE MODE")
            row = conn.execute("SELECT value FROM caseflow_meta WHERE key = 'store_id'").fetchone()
            if row:
                return row[0]
            if not create:
                raise StoreError("there is no caseflow store in this database")
            sid = store_id or uuid.uuid4().hex
            conn.execute("INSERT INTO caseflow_meta (key, value) VALUES ('store_id', %s)", (sid,))
            conn.execute("INSERT INTO feed_head (last_seq, audit_n, audit_head) VALUES (0, 0, %s)", (genesis(sid),))
            return sid

    # ------------------------------------------------------------------ plumbing
    def _usable(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        self._usable()
        held = getattr(self._local, "conn", None)
        if held is not None:
            # a store read while this thread's unit of work is open (a handler asking the directory):
            # on the unit's own connection, idle in autocommit until the commit. A second pooled
            # connection here deadlocked: every thread holding one and waiting for another
            yield held
            return
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise StoreError(f"the database is unavailable: {exc}") from exc

    def _read(self, conn: psycopg.Connection, key: Key) -> Rec | None:
        row = conn.execute("SELECT version, seq, deleted, data::text FROM documents WHERE collection = %s AND id = %s",
                           key).fetchone()
        return None if row is None else _rec(row)

    def _version(self, conn: psycopg.Connection, key: Key) -> int:
        rec = self._read(conn, key)
        return 0 if rec is None or rec.deleted else rec.version

    # ------------------------------------------------------------------ reads
    def get(self, collection: str, doc_id: str) -> Document | None:
        with self._conn() as conn:
            rec = self._read(conn, (collection, doc_id))
        if rec is None or rec.deleted:
            return None
        return Document(collection, doc_id, rec.version, json.loads(rec.data), rec.seq)  # type: ignore[arg-type]

    def version_of(self, collection: str, doc_id: str) -> int | None:
        with self._conn() as conn:
            row = conn.execute("SELECT version FROM documents WHERE collection = %s AND id = %s AND NOT deleted",
                               (collection, doc_id)).fetchone()
        return None if row is None else row[0]

    def scan(self, collection: str, where: Callable[[JSON], bool] | None = None) -> Iterator[Document]:
        # keyset pages by id, each one short query on a pooled connection given back before a
        # document is yielded: memory is one page however large the collection, and no connection
        # is held while the caller works (one held across the caller's own reads could starve the pool)
        after: str | None = None
        while True:
            page = "" if after is None else "AND id > %(after)s "
            with self._conn() as conn:
                rows = conn.execute("SELECT id, version, seq, data::text FROM documents "  # noqa: S608
                                    f"WHERE collection = %(c)s AND NOT deleted {page}ORDER BY id LIMIT %(n)s",
                                    {"c": collection, "after": after, "n": self.scan_batch}).fetchall()
            for did, version, seq, text in rows:
                data = json.loads(text)
                if where is None or where(data):
                    yield Document(collection, did, version, data, seq)
            if len(rows) < self.scan_batch:
                return
            after = rows[-1][0]

    @staticmethod
    def _document(row: tuple) -> Document:
        coll, did, version, seq, deleted, text = row
        return Document(coll, did, version, {} if deleted else json.loads(text), seq, deleted)

    def changes_since(self, after_seq: int, limit: int) -> list[Document]:
        if limit <= 0:
            return []
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM documents WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
                                (after_seq, limit)).fetchall()
        return [self._document(r) for r in rows]

    def scan_changes(self, after_seq, limit, keep):
        if limit <= 0:
            return [], after_seq
        with self._conn() as conn:
            heads = conn.execute("SELECT collection, id, seq, deleted FROM documents WHERE seq > %s "
                                 "ORDER BY seq LIMIT %s", (after_seq, limit)).fetchall()
        if not heads:
            return [], after_seq
        scanned = heads[-1][2]
        wanted = [(c, d, s) for c, d, s, deleted in heads if keep(c, d, deleted)]
        if not wanted:
            return [], scanned
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM documents WHERE seq = ANY(%s) ORDER BY seq",  # noqa: S608
                                ([s for _, _, s in wanted],)).fetchall()
        # a document rewritten since the first read moved to a later seq: a later page brings it
        return [self._document(r) for r in rows], scanned

    @staticmethod
    def _head_seq(conn: psycopg.Connection) -> int:
        return conn.execute("SELECT last_seq FROM feed_head").fetchone()[0]

    def last_seq(self) -> int:
        with self._conn() as conn:
            return self._head_seq(conn)

    def audit_log(self, subject: str | None = None) -> Iterator[AuditEntry]:
        with self._conn() as conn:
            if subject is None:
                rows = conn.execute("SELECT line FROM audit ORDER BY n").fetchall()
            else:
                rows = conn.execute("SELECT line FROM audit WHERE subject = %s ORDER BY n", (subject,)).fetchall()
        for (line,) in rows:
            yield parse_line(line)

    def stats(self) -> dict[str, Any]:
        with self._conn() as conn:
            last_seq, audit_n, units = conn.execute("SELECT last_seq, audit_n, units FROM feed_head").fetchone()
            docs = conn.execute("SELECT count(*) FROM documents WHERE NOT deleted").fetchone()[0]
        return {"url": redact(self.url), "store_id": self.store_id, "documents": docs, "last_seq": last_seq,
                "audit_entries": audit_n, "units_committed": units, "pool": self._pool.get_stats()}

    # ------------------------------------------------------------------ writes
    @contextlib.contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        self._usable()
        if getattr(self._local, "active", False):
            raise StoreError("transaction() inside a transaction of the same thread; use uow.savepoint()")
        self._local.active = True
        try:
            with self._conn() as conn:
                uow = PgUnitOfWork(self, conn)
                self._local.conn = conn
                try:
                    yield uow
                    uow._commit()
                finally:
                    uow._open = False
                    self._local.conn = None
        finally:
            self._local.active = False

    # ------------------------------------------------------------------ copy (store.transfer)
    def export(self):
        """A consistent snapshot of everything (one REPEATABLE READ transaction)."""
        from ..transfer import Snapshot

        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            last_seq = self._head_seq(conn)
            records = [tuple(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM documents")]  # noqa: S608
            audit = [tuple(r) for r in conn.execute("SELECT subject, line FROM audit ORDER BY n")]
        return Snapshot(self.store_id, last_seq, records, audit)  # type: ignore[arg-type]

    def import_records(self, snap) -> None:
        """Write ``snap`` into this empty database (same store id) in one transaction."""
        from ..tinystore.chain import parse

        head, n = self._genesis_head(), 0
        for _, line in snap.audit:
            d = parse(line)
            n += 1
            if d.get("prev_hash") != head or d.get("n") != n:
                raise StoreError(f"audit entry {n} does not continue the chain being imported")
            head = d["hash"]
        with self._conn() as conn, conn.transaction():
            last, audit_n = conn.execute("SELECT last_seq, audit_n FROM feed_head FOR UPDATE").fetchone()
            has_docs = conn.execute("SELECT EXISTS (SELECT 1 FROM documents)").fetchone()[0]
            if last or audit_n or has_docs:
                raise StoreError("import_records needs an empty database")
            with conn.cursor() as cur:
                with cur.copy("COPY documents (collection, id, version, seq, deleted, data) FROM STDIN") as cp:
                    for rec in snap.records:
                        cp.write_row(rec)
                with cur.copy("COPY audit (n, subject, line) FROM STDIN") as cp:
                    for i, (subject, line) in enumerate(snap.audit, 1):
                        cp.write_row((i, subject, line))
            conn.execute("UPDATE feed_head SET last_seq = %s, audit_n = %s, audit_head = %s, units = units + 1",
                         (snap.last_seq, n, head))

    def _genesis_head(self) -> str:
        return genesis(self.store_id)

    # ------------------------------------------------------------------ integrity
    def _not_in_unit(self, what: str) -> None:
        if getattr(self._local, "active", False):
            raise StoreError(f"{what}() inside a transaction of the same thread")

    def verify(self) -> list[str]:
        from .verify import verify

        self._not_in_unit("verify")
        with self._conn() as conn:
            return verify(conn, self.store_id)

    def close(self) -> None:
        if self._closed:
            return
        self._not_in_unit("close")
        self._closed = True
        self._pool.close()


def open_postgres(url: str, **options: Any) -> PostgresStore:
    return PostgresStore(url, **options)
