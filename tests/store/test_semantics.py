"""Semantics of the embedded store, on real files (no mocks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from store import DuplicateKey, StoreLocked, VersionConflict, open_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def st(tmp_path):
    s = open_store(tmp_path / "data")
    yield s
    s.close()


def test_insert_get_update_delete(st):
    with st.transaction() as u:
        d = u.insert("cases", "c1", {"name": "a"})
    assert d.version == 1 and d.data == {"name": "a"}
    got = st.get("cases", "c1")
    assert got is not None and got.version == 1 and got.data == {"name": "a"}
    with st.transaction() as u:
        d2 = u.update("cases", "c1", {"name": "b"}, expected_version=1)
    assert d2.version == 2
    assert st.get("cases", "c1").data == {"name": "b"}
    assert [x.id for x in st.scan("cases")] == ["c1"]
    with st.transaction() as u:
        u.delete("cases", "c1", expected_version=2)
    assert st.get("cases", "c1") is None
    assert list(st.scan("cases")) == []
    assert st.get("nope", "x") is None


def test_duplicate_key(st):
    with st.transaction() as u:
        u.insert("keys", "k", {})
    with pytest.raises(DuplicateKey), st.transaction() as u:
        u.insert("keys", "k", {"other": 1})
    assert st.get("keys", "k").data == {}
    # a published tombstone still counts as existing
    with st.transaction() as u:
        u.insert("feed", "f", {}, publish=True)
    with st.transaction() as u:
        u.delete("feed", "f", expected_version=1, publish=True)
    with pytest.raises(DuplicateKey), st.transaction() as u:
        u.insert("feed", "f", {})


def test_version_conflict(st):
    with st.transaction() as u:
        u.insert("c", "1", {"v": 1})
    with pytest.raises(VersionConflict) as ei, st.transaction() as u:
        u.update("c", "1", {"v": 2}, expected_version=7)
    assert (ei.value.expected, ei.value.actual) == (7, 1)
    with pytest.raises(VersionConflict), st.transaction() as u:
        u.delete("c", "1", expected_version=2)
    with pytest.raises(VersionConflict), st.transaction() as u:
        u.update("c", "missing", {}, expected_version=1)
    assert st.get("c", "1").version == 1 and st.get("c", "1").data == {"v": 1}


def test_exception_in_transaction_writes_nothing(st, tmp_path):
    with st.transaction() as u:
        u.insert("c", "keep", {"x": 1})
    seq, n_audit = st.last_seq(), len(list(st.audit_log()))
    with pytest.raises(RuntimeError), st.transaction() as u:
        u.insert("c", "new", {"x": 1}, publish=True)
        u.update("c", "keep", {"x": 2}, expected_version=1)
        u.audit({"what": "x"})
        raise RuntimeError("boom")
    assert st.get("c", "new") is None
    assert st.get("c", "keep").data == {"x": 1}
    assert st.last_seq() == seq and len(list(st.audit_log())) == n_audit
    st.close()
    with open_store(tmp_path / "data") as s2:
        assert s2.get("c", "new") is None and s2.get("c", "keep").version == 1


def test_savepoint_rolls_back_only_its_writes(st):
    with st.transaction() as u:
        u.insert("c", "outer", {"a": 1}, publish=True)
        u.audit({"what": "outer"})
        with pytest.raises(ValueError), u.savepoint():
            u.insert("c", "inner", {"b": 1}, publish=True)
            u.update("c", "outer", {"a": 2}, expected_version=1, publish=True)
            u.audit({"what": "inner"})
            raise ValueError("undo me")
        assert u.get("c", "inner") is None
        assert u.get("c", "outer").data == {"a": 1}
        with u.savepoint():  # a savepoint that succeeds keeps its writes
            u.insert("c", "kept", {"k": 1}, publish=True)
            with pytest.raises(KeyError), u.savepoint():  # nested
                u.insert("c", "nested", {}, publish=True)
                raise KeyError("n")
    assert st.get("c", "outer").data == {"a": 1}
    assert st.get("c", "inner") is None and st.get("c", "nested") is None
    assert st.get("c", "kept") is not None
    assert [e.entry["what"] for e in st.audit_log()] == ["outer"]
    # no hole in the feed after the rolled-back seqs
    assert [d.seq for d in st.changes_since(0, 100)] == [1, 2]
    assert st.verify() == []


def test_own_writes_visible_inside_unit_not_outside(st):
    with st.transaction() as u:
        u.insert("c", "1", {"v": 1})
        assert u.get("c", "1").data == {"v": 1}
        assert st.get("c", "1") is None  # not committed yet
        u.update("c", "1", {"v": 2}, expected_version=1)
        assert u.get("c", "1").version == 2
        u.delete("c", "1", expected_version=2)
        assert u.get("c", "1") is None
        u.insert("c", "1", {"v": 3})
    assert st.get("c", "1").data == {"v": 3}


def _fill(s, n=50):
    with s.transaction() as u:
        for i in range(n):
            u.insert("docs", f"d{i}", {"i": i, "pad": "x" * 200}, publish=True)
            u.audit({"what": "insert", "i": i}, subject=f"d{i}")
    with s.transaction() as u:
        u.update("docs", "d0", {"i": 0, "changed": True}, expected_version=1, publish=True)
        u.delete("docs", "d1", expected_version=1, publish=True)
        u.delete("docs", "d2", expected_version=1)


def _snapshot(s):
    return (
        {d.id: (d.version, d.data, d.seq) for d in s.scan("docs")},
        [(d.id, d.version, d.seq, d.deleted) for d in s.changes_since(0, 10_000)],
        [(e.n, e.hash) for e in s.audit_log()],
        s.last_seq(),
        s.store_id,
    )


def test_reopen_keeps_everything(tmp_path):
    s = open_store(tmp_path / "d")
    _fill(s)
    before = _snapshot(s)
    s.close()
    with open_store(tmp_path / "d") as s2:
        assert _snapshot(s2) == before
        assert s2.verify() == []


def test_reopen_after_checkpoint(tmp_path):
    s = open_store(tmp_path / "d", background_checkpoint=False, shard_max_docs=8)
    _fill(s)
    assert s.checkpoint() is True
    assert os.listdir(tmp_path / "d" / "shards"), "checkpoint wrote no shard files"
    # more work after the checkpoint lives only in the journal
    with s.transaction() as u:
        u.insert("docs", "late", {"after": "checkpoint"}, publish=True)
        u.audit({"what": "late"})
    before = _snapshot(s)
    assert s.verify() == []
    s.close()
    with open_store(tmp_path / "d") as s2:
        assert _snapshot(s2) == before
        assert s2.stats()["checkpoint"] == 1
        assert s2.verify() == []
        assert s2.checkpoint() is True
    with open_store(tmp_path / "d") as s3:
        assert _snapshot(s3) == before
        assert s3.verify() == []


def test_changes_since(st):
    with st.transaction() as u:
        for i in range(5):
            u.insert("f", f"d{i}", {"i": i}, publish=True)
        u.insert("private", "p", {})  # not published: never in the feed
    with st.transaction() as u:
        u.update("f", "d1", {"i": 11}, expected_version=1, publish=True)
        u.update("f", "d1", {"i": 12}, expected_version=2, publish=True)  # same unit: one seq
    with st.transaction() as u:
        u.update("f", "d3", {"i": 13}, expected_version=1, publish=True)
        u.delete("f", "d4", expected_version=1, publish=True)
    feed = st.changes_since(0, 100)
    assert [d.id for d in feed] == ["d0", "d2", "d1", "d3", "d4"]
    seqs = [d.seq for d in feed]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({d.id for d in feed}) == len(feed)  # once per doc
    by_id = {d.id: d for d in feed}
    assert by_id["d1"].version == 3 and by_id["d1"].data == {"i": 12}
    assert by_id["d4"].deleted and by_id["d4"].version == 2
    assert st.get("f", "d4") is None
    assert st.last_seq() == seqs[-1] == 8
    # paging with limit
    page1 = st.changes_since(0, 2)
    page2 = st.changes_since(page1[-1].seq, 2)
    page3 = st.changes_since(page2[-1].seq, 2)
    assert [d.id for d in page1 + page2 + page3] == [d.id for d in feed]
    assert st.changes_since(st.last_seq(), 10) == []
    assert st.changes_since(0, 0) == []


def test_audit_chain_and_tamper_detection(tmp_path):
    d = tmp_path / "d"
    s = open_store(d, background_checkpoint=False)
    with s.transaction() as u:
        for i in range(5):
            u.audit({"who": "u1", "what": "view", "i": i}, subject=f"case-{i % 2}")
    entries = list(s.audit_log())
    assert [e.n for e in entries] == [1, 2, 3, 4, 5]
    for a, b in zip(entries, entries[1:], strict=False):
        assert b.prev_hash == a.hash
    assert [e.n for e in s.audit_log("case-1")] == [2, 4]
    assert s.verify() == []
    s.checkpoint()
    seg = d / "audit" / os.listdir(d / "audit")[0]
    lines = seg.read_text().splitlines()
    rec = json.loads(lines[2])
    rec["entry"]["who"] = "someone-else"  # tamper, keep the stored hash
    lines[2] = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    seg.write_text("\n".join(lines) + "\n")
    problems = s.verify()
    assert any("audit entry 3" in p and "hash does not match" in p for p in problems), problems
    s.close()
    with open_store(d) as s2:  # reopening also reports it
        assert s2.open_problems, "tampered audit log opened without a problem"
        assert any("audit entry 3" in p for p in s2.verify())


def test_second_process_gets_store_locked(st):
    code = (
        "import sys\n"
        "from store import open_store, StoreLocked\n"
        "try:\n"
        "    open_store(sys.argv[1])\n"
        "except StoreLocked as e:\n"
        "    print('LOCKED', e); sys.exit(3)\n"
        "print('OPENED')\n"
    )
    r = subprocess.run([sys.executable, "-c", code, st.path], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "LOCKED" in r.stdout and st.path in r.stdout
    assert f"process {os.getpid()}" in r.stdout
    assert "only one process" in r.stdout


def test_lock_released_on_close(tmp_path):
    s = open_store(tmp_path / "d")
    s.close()
    with open_store(tmp_path / "d") as s2:
        assert s2.get("x", "y") is None


def test_same_process_second_open_is_locked(st):
    with pytest.raises(StoreLocked):
        open_store(st.path)


def test_concurrent_cas_increments(st):
    with st.transaction() as u:
        u.insert("ctr", "n", {"n": 0}, publish=True)
    per_thread, threads = 100, 8
    seqs: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    conflicts = [0]

    def work():
        try:
            done = 0
            while done < per_thread:
                cur = st.get("ctr", "n")
                try:
                    with st.transaction() as u:
                        d = u.update("ctr", "n", {"n": cur.data["n"] + 1}, expected_version=cur.version,
                                     publish=True)
                except VersionConflict:
                    with lock:
                        conflicts[0] += 1
                    continue
                with lock:
                    seqs.append(d.seq)
                done += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    total = per_thread * threads
    doc = st.get("ctr", "n")
    assert doc.data["n"] == total and doc.version == total + 1
    assert sorted(seqs) == list(range(2, total + 2))  # unique and gap-free after the insert's seq 1
    assert st.last_seq() == total + 1
    assert st.verify() == []
