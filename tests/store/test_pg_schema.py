"""The PostgreSQL store's migrations and commit durability on a real server (store/postgres/schema.py,
ADR 0024): an old-schema database is upgraded in place, a newer one is refused with a message that says
what to do, two processes opening an empty database at once migrate it once, and every pooled connection
commits with ``synchronous_commit=on`` even where the database's own default is off."""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest

from store import StoreCorrupt, open_store
from store.audit import genesis
from store.postgres.schema import MIGRATION_LOCK, MIGRATIONS
from tests.support import ROOT

NEWEST = MIGRATIONS[-1][0]


def versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM caseflow_schema ORDER BY version")]


def test_a_version_1_database_is_upgraded_and_keeps_its_data(pg_url):
    number, name, sql = MIGRATIONS[0]
    with psycopg.connect(pg_url, autocommit=True) as conn:  # what the first release left behind
        conn.execute("CREATE TABLE caseflow_schema (version integer PRIMARY KEY, name text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        conn.execute(sql)
        conn.execute("INSERT INTO caseflow_schema (version, name) VALUES (%s, %s)", (number, name))
        conn.execute("INSERT INTO feed_head (last_seq, audit_n, audit_head) VALUES (0, 0, %s)", (genesis("old-store"),))
        conn.execute("INSERT INTO caseflow_meta (key, value) VALUES ('store_id', 'old-store')")
        conn.execute("""INSERT INTO documents (collection, id, version, seq, data)
                        VALUES ('cases', 'c1', 1, 0, '{"kept": true}')""")
    assert versions(pg_url) == [1]
    with open_store(pg_url, create=False) as st:
        assert st.store_id == "old-store"
        assert st.get("cases", "c1").data == {"kept": True}
    assert versions(pg_url) == [m[0] for m in MIGRATIONS]
    with psycopg.connect(pg_url) as conn:  # migration 2's table is there
        assert conn.execute("SELECT to_regclass('login_failures') IS NOT NULL").fetchone()[0]


def test_a_database_newer_than_the_code_is_refused_with_what_to_do(pg_url):
    open_store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO caseflow_schema (version, name) VALUES (%s, 'from a later release')",
                     (NEWEST + 1,))
    with pytest.raises(StoreCorrupt) as exc:
        open_store(pg_url)
    message = str(exc.value)
    assert f"schema version {NEWEST + 1}" in message and f"up to {NEWEST}" in message
    assert "upgrade caseflow" in message
    assert versions(pg_url) == [*[m[0] for m in MIGRATIONS], NEWEST + 1]  # nothing was changed


MIGRATOR = """
import sys, psycopg
from store.postgres.schema import migrate
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    print(",".join(map(str, migrate(conn))), flush=True)
"""


def test_two_processes_migrating_an_empty_database_at_once_migrate_it_once(pg_url):
    # hold the migration lock, so that both processes are inside migrate() waiting for it together
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        procs = [subprocess.Popen([sys.executable, "-c", MIGRATOR, pg_url], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < 2:
            assert time.monotonic() < deadline, "the two migrating processes did not both wait for the lock in 60 s"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
            waiting = holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                                     "AND database = (SELECT oid FROM pg_database WHERE datname = "
                                     "current_database())").fetchone()[0]
        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outs.append(out.strip())
    assert sorted(outs) == ["", ",".join(str(m[0]) for m in MIGRATIONS)], outs
    assert versions(pg_url) == [m[0] for m in MIGRATIONS]


def test_every_pooled_connection_commits_synchronously_even_if_the_database_default_is_off(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        dbname = conn.info.dbname
        conn.execute(f'ALTER DATABASE "{dbname}" SET synchronous_commit = off')
    with psycopg.connect(pg_url) as conn:  # the database's default really is off now
        assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "off"
    with open_store(pg_url, pool_size=3) as st:
        seen = []
        with st._pool.connection() as a, st._pool.connection() as b, st._pool.connection() as c:
            seen = [x.execute("SHOW synchronous_commit").fetchone()[0] for x in (a, b, c)]
        assert seen == ["on", "on", "on"]
        with st.transaction() as uow:  # and a unit of work's own connection
            uow.insert("docs", "d1", {"x": 1}, publish=True)
        with st._pool.connection() as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"
