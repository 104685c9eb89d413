"""The PostgreSQL store's change feed under concurrent writers and readers (ADR 0024).

Writers in their own threads, each with its own store (its own pool, like separate server
processes), commit small units of work that publish one to three new documents, and roll back some.
Readers tail ``changes_since`` at the same time. A reader must never skip a seq that commits after
it has read past it, never see one twice, and the seqs must be gap-free despite the rollbacks.
"""

from __future__ import annotations

import random
import threading

from store import open_store

WRITERS, UNITS, READERS = 4, 150, 2


class Boom(Exception):
    pass


def _writer(url: str, w: int, errors: list) -> None:
    rnd = random.Random(w)
    try:
        with open_store(url, pool_size=1) as st:
            for u in range(UNITS):
                try:
                    with st.transaction() as uow:
                        for k in range(rnd.choice((1, 1, 3))):
                            uow.insert("docs", f"w{w}-u{u}-{k}", {"w": w, "u": u}, publish=True)
                        uow.audit({"w": w, "u": u}, subject=f"w{w}")
                        if rnd.random() < 0.05:
                            raise Boom
                except Boom:
                    pass
    except Exception as exc:  # surfaced by the test
        errors.append(exc)


def _reader(url: str, done: threading.Event, seen: list, errors: list) -> None:
    try:
        with open_store(url, pool_size=1) as st:
            cursor = 0
            while True:
                finished = done.is_set()  # read once more after the writers stopped
                page = st.changes_since(cursor, 50)
                seqs = [d.seq for d in page]
                assert seqs == sorted(seqs) and (not seqs or seqs[0] > cursor), (cursor, seqs)
                seen.extend(seqs)
                if page:
                    cursor = seqs[-1]
                elif finished:
                    return
    except Exception as exc:
        errors.append(exc)


def test_the_feed_never_skips_or_repeats_under_concurrent_writers(pg_url):
    with open_store(pg_url):
        pass  # creates the schema once, before the threads race to
    errors: list = []
    done = threading.Event()
    seen: list[list[int]] = [[] for _ in range(READERS)]
    readers = [threading.Thread(target=_reader, args=(pg_url, done, seen[i], errors)) for i in range(READERS)]
    writers = [threading.Thread(target=_writer, args=(pg_url, w, errors)) for w in range(WRITERS)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in readers:
        t.join()
    assert errors == []
    with open_store(pg_url) as st:
        last = st.last_seq()
        docs = st.changes_since(0, 10**6)
        assert [d.seq for d in docs] == list(range(1, last + 1))  # gap-free despite rollbacks
        assert len(list(st.scan("docs"))) == last
        assert len(list(st.audit_log())) == st.stats()["units_committed"]
        assert st.verify() == []
    assert last > WRITERS * UNITS  # most units committed, several documents each
    for got in seen:  # each reader saw every seq exactly once, in order: nothing skipped
        assert got == list(range(1, last + 1))
