"""The PostgreSQL store's schema, created and changed by numbered migrations.

Each migration runs once, in its own transaction, recorded in ``caseflow_schema``. Opening the
store applies the ones a database lacks under a transaction-level advisory lock, so several
server processes starting together migrate once. A database newer than this code is refused.
"""

from __future__ import annotations

import psycopg

from ..base import StoreCorrupt

#: pg_advisory_xact_lock key while migrating ("cfmigr" in ASCII, fits a bigint)
MIGRATION_LOCK = 0x63666D69677272

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "documents, feed head, audit chain", """
CREATE TABLE caseflow_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
-- documents of every collection; seq > 0 only for published ones (the change feed)
CREATE TABLE documents (
    collection text    NOT NULL,
    id         text    NOT NULL,
    version    integer NOT NULL CHECK (version >= 1),
    seq        bigint  NOT NULL DEFAULT 0,
    deleted    boolean NOT NULL DEFAULT false,
    data       jsonb,
    PRIMARY KEY (collection, id),
    CHECK (deleted = (data IS NULL))
);
CREATE UNIQUE INDEX documents_feed ON documents (seq) WHERE seq > 0;
-- the one row every committing unit of work locks: gap-free seqs and the audit chain's head
CREATE TABLE feed_head (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_seq   bigint  NOT NULL,
    audit_n    bigint  NOT NULL,
    audit_head text    NOT NULL,
    units      bigint  NOT NULL DEFAULT 0
);
-- the hash-chained audit log: each row is the canonical JSON line the hash covers
CREATE TABLE audit (
    n       bigint PRIMARY KEY,
    subject text,
    line    text   NOT NULL
);
CREATE INDEX audit_subject ON audit (subject, n) WHERE subject IS NOT NULL;
"""),
    (2, "login throttle counters shared by every server process", """
CREATE TABLE login_failures (
    key      text             PRIMARY KEY,  -- an HMAC: no usernames or addresses
    count    integer          NOT NULL,
    first_at double precision NOT NULL,
    last_at  double precision NOT NULL
);
"""),
]


def current_version(conn: psycopg.Connection) -> int:
    exists = conn.execute("SELECT to_regclass('caseflow_schema') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM caseflow_schema").fetchone()[0]


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply the migrations ``conn``'s database lacks; returns their numbers. ``conn`` is autocommit."""
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS caseflow_schema (version integer PRIMARY KEY, name text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        have = current_version(conn)
        newest = MIGRATIONS[-1][0]
        if have > newest:
            raise StoreCorrupt(f"the database is at schema version {have}; this code knows up to {newest}: "
                               "upgrade caseflow before opening it")
        for number, name, sql in MIGRATIONS:
            if number > have:
                with conn.transaction():
                    conn.execute(sql)  # type: ignore[arg-type]
                    conn.execute("INSERT INTO caseflow_schema (version, name) VALUES (%s, %s)", (number, name))
                applied.append(number)
    return applied
