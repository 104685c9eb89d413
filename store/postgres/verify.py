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
