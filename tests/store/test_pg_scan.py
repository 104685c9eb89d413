"""The PostgreSQL store's ``scan`` reads a collection in keyset pages (``scan_batch`` documents per
query), so an export of 100,000 cases does not hold them all at once: it yields the first documents
before it reads the rest, and still returns every live document once, tombstones left out."""

from __future__ import annotations

import pytest

from store import open_store


@pytest.fixture
def st(pg_url):
    store = open_store(pg_url, scan_batch=3)
    yield store
    store.close()


def _fill(st, n: int) -> None:
    with st.transaction() as uow:
        for i in range(n):
            uow.insert("c", f"d{i:02d}", {"i": i}, publish=True)


def test_scan_yields_the_first_page_before_reading_the_next(st):
    _fill(st, 8)
    scan = st.scan("c")
    first = [next(scan) for _ in range(3)]  # the first page, read
    assert [d.id for d in first] == ["d00", "d01", "d02"]
    # a write after the first page was read: a scan that read everything at once would not see it
    with st.transaction() as uow:
        uow.update("c", "d06", {"i": 600}, expected_version=1, publish=True)
        uow.delete("c", "d07", expected_version=1, publish=True)
        uow.insert("c", "d09", {"i": 9}, publish=True)
    rest = list(scan)
    assert [d.id for d in rest] == ["d03", "d04", "d05", "d06", "d09"]
    d06 = rest[3]
    assert d06.version == 2 and d06.data == {"i": 600}


def test_paged_scan_returns_every_live_document_once(st):
    _fill(st, 10)
    with st.transaction() as uow:  # tombstones on page boundaries and a whole page of them
        for i in (2, 3, 4, 5, 9):
            uow.delete("c", f"d{i:02d}", expected_version=1, publish=True)
        uow.insert("other", "d05", {"i": -1})
    assert [d.id for d in st.scan("c")] == ["d00", "d01", "d06", "d07", "d08"]
    assert [d.data["i"] for d in st.scan("c", lambda d: d["i"] % 2 == 0)] == [0, 6, 8]
    assert [d.id for d in st.scan("other")] == ["d05"] and list(st.scan("none")) == []


def test_an_abandoned_scan_holds_no_connection(pg_url):
    with open_store(pg_url, scan_batch=2, pool_size=1) as store:
        _fill(store, 5)
        scans = [store.scan("c") for _ in range(3)]
        assert [next(s).id for s in scans] == ["d00"] * 3  # three scans mid-way on a pool of one
        assert store.get("c", "d04").data == {"i": 4}  # and the one connection is still free
