"""``PostgresStore.verify()``: the audit chain recomputed from genesis, and the feed's invariants."""

from __future__ import annotations

import psycopg

from ..audit import genesis
from ..tinystore.chain import Link, check_link, parse

MAX_PROBLEMS = 50


def verify(conn: psycopg.Connection, store_id: str) -> list[str]:
    problems: list[str] = []
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")  # one snapshot for all checks
        last_seq, audit_n, head = conn.execute("SELECT last_seq, audit_n, audit_head FROM feed_head").fetchone()
        prev, count = genesis(store_id), 0
        with conn.cursor(name="audit_chain") as cur:  # server-side: the chain is streamed, not loaded
            cur.execute("SELECT n, line FROM audit ORDER BY n")
            for n, line in cur:
                count += 1
                link = Link(count, f"audit row n={n}", parse(line))
                problem = check_link(link, prev)
                if problem and len(problems) < MAX_PROBLEMS:
                    problems.append(f"audit {problem}")
                prev = link.raw.get("hash", "")
        if count != audit_n:
            problems.append(f"the audit table holds {count} entries, feed_head records {audit_n}")
        if prev != head:
            problems.append("the audit chain ends with a different hash than feed_head records")
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM documents").fetchone()[0]
        if top > last_seq:
            problems.append(f"a document has seq {top}, beyond last_seq {last_seq}")
        bad = conn.execute("SELECT count(*) FROM documents "
                           "WHERE version < 1 OR deleted <> (data IS NULL)").fetchone()[0]
        if bad:
            problems.append(f"{bad} document(s) have an invalid state")
    return problems


def audit_report(url: str, anchor: str | None = None):
    """The chain of the store at ``url`` recomputed read-only, as an ``AuditReport`` (``caseflow audit verify``)."""
    from ..auditcheck import AuditReport
    from ..base import StoreError

    report = AuditReport()
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot connect: {exc}") from None
    with conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = conn.execute("SELECT value FROM caseflow_meta WHERE key = 'store_id'").fetchone() \
            if conn.execute("SELECT to_regclass('caseflow_meta') IS NOT NULL").fetchone()[0] else None
        if row is None:
            raise StoreError("there is no caseflow store in this database")
        audit_n, head = conn.execute("SELECT audit_n, audit_head FROM feed_head").fetchone()
        prev, anchored = genesis(row[0]), anchor is None
        with conn.cursor(name="audit_verify") as cur:
            cur.execute("SELECT n, line FROM audit ORDER BY n")
            for n, line in cur:
                link = Link(report.entries + 1, f"audit row n={n}", parse(line))
                problem = check_link(link, prev)
                if problem and len(report.problems) < MAX_PROBLEMS:
                    report.problems.append(problem)
                    report.first_broken = report.first_broken or link.position
                prev = link.raw.get("hash", "")
                anchored = anchored or prev == anchor
                report.entries = link.position
    if report.entries != audit_n or prev != head:
        report.problems.append(f"feed_head records {audit_n} entries ending in another hash; {report.entries} read")
    if not anchored:
        report.problems.append("the anchor hash is not in the chain: history up to it was rewritten")
    report.head = prev
    return report
