"""The store contract (store/base.py) on both stores: the embedded store with real files, and
PostgreSQL on a throwaway cluster (every test taking the ``s`` fixture runs on both)."""

from __future__ import annotations

import json
import math
import time

import pytest

from store import (
    CommitResult,
    Document,
    DuplicateKey,
    StoreError,
    VersionConflict,
    open_store,
)
from store.files import open_shard
from tests.pgfixtures import STORES


@pytest.fixture(params=STORES)
def s(request, tmp_path):
    if request.param == "postgres":
        st = open_store(request.getfixturevalue("pg_url"))
    else:
        st = open_store(tmp_path / "db", background_checkpoint=False)
    yield st
    st.close()


def journal_bytes(st) -> int:
    """What a commit leaves behind: journal bytes (embedded), committed units (PostgreSQL)."""
    if not hasattr(st, "path"):
        return st.stats()["units_committed"]
    jdir = st.path + "/journal"
    import os

    return sum(os.path.getsize(os.path.join(jdir, n)) for n in os.listdir(jdir))


def checkpoint(st) -> None:
    """The embedded store's checkpoint (PostgreSQL has no such step)."""
    if hasattr(st, "checkpoint"):
        st.checkpoint()


# -- CRUD -------------------------------------------------------------------------
def test_insert_get_update_delete(s):
    with s.transaction() as u:
        d = u.insert("cases", "c1", {"name": "A", "n": [1, 2]})
    assert d == Document("cases", "c1", 1, {"name": "A", "n": [1, 2]}, 0)
    assert u.result == CommitResult(0, [Document("cases", "c1", 1, {"name": "A", "n": [1, 2]}, 0)])
    got = s.get("cases", "c1")
    assert got.version == 1 and got.data == {"name": "A", "n": [1, 2]} and not got.deleted
    got.data["name"] = "mutated"  # callers get a private copy
    assert s.get("cases", "c1").data["name"] == "A"
    with s.transaction() as u:
        d2 = u.update("cases", "c1", {"name": "B"}, expected_version=1)
    assert d2.version == 2 and s.get("cases", "c1").data == {"name": "B"}
    with s.transaction() as u:
        u.delete("cases", "c1", expected_version=2)
    assert s.get("cases", "c1") is None
    with s.transaction() as u:  # a hard-deleted id can be created again
        assert u.insert("cases", "c1", {"again": True}).version == 1
    assert s.get("cases", "missing") is None and s.get("nocoll", "x") is None


def test_a_written_document_is_what_was_stored_parsed_when_read(s):
    # insert/update return the stored text's parse, read on demand (ADR 0035): a tuple reads back as
    # a list, a later change to the caller's dict does not show, and each document is its own copy
    data = {"name": "A", "pair": (1, 2), "nested": {"k": "\u00e9"}}
    with s.transaction() as u:
        d = u.insert("cases", "w1", data, publish=True)
        data["name"] = "changed after the insert"
        data["nested"]["k"] = "changed"
        assert d.data == {"name": "A", "pair": [1, 2], "nested": {"k": "\u00e9"}}
        d.data["name"] = "a caller's own change"
        assert u.get("cases", "w1").data["name"] == "A"
        d2 = u.update("cases", "w1", {"name": "B"}, expected_version=1, publish=True)
    assert d2 == Document("cases", "w1", 2, {"name": "B"}, d2.seq) and d2.seq > 0
    assert Document("cases", "w1", 2, {"name": "B"}, d2.seq) == d2 and d2 != Document("cases", "w1", 2, {}, d2.seq)
    assert s.get("cases", "w1").data == {"name": "B"}


def test_duplicate_key_including_tombstones(s):
    with s.transaction() as u:
        u.insert("k", "a", {})
        u.insert("k", "b", {}, publish=True)
    with pytest.raises(DuplicateKey) as e, s.transaction() as u:
        u.insert("k", "a", {"x": 1})
    assert (e.value.collection, e.value.doc_id) == ("k", "a")
    with s.transaction() as u:
        u.delete("k", "b", expected_version=1, publish=True)  # tombstone
    with pytest.raises(DuplicateKey), s.transaction() as u:
        u.insert("k", "b", {})
    with s.transaction() as u:  # inside one unit, too
        u.insert("k", "c", {})
        with pytest.raises(DuplicateKey):
            u.insert("k", "c", {})


def test_version_conflicts(s):
    with s.transaction() as u:
        u.insert("c", "x", {"v": 1})
    with pytest.raises(VersionConflict) as e, s.transaction() as u:
        u.update("c", "x", {"v": 2}, expected_version=5)
    assert (e.value.expected, e.value.actual) == (5, 1)
    with pytest.raises(VersionConflict) as e, s.transaction() as u:
        u.delete("c", "x", expected_version=0)
    assert e.value.actual == 1
    with pytest.raises(VersionConflict) as e, s.transaction() as u:
        u.update("c", "nope", {}, expected_version=0)  # missing: actual 0, never matches
    assert e.value.actual == 0
    with s.transaction() as u:
        u.delete("c", "x", expected_version=1, publish=True)
    with pytest.raises(VersionConflict), s.transaction() as u:
        u.update("c", "x", {}, expected_version=2)  # tombstones cannot be updated
    assert s.get("c", "x") is None


def test_bad_input_is_refused_before_anything_changes(s):
    with s.transaction() as u:
        with pytest.raises(TypeError):
            u.insert("c", "a", {"when": object()})
        with pytest.raises(ValueError):
            u.insert("c", "a", {"x": math.nan})
        with pytest.raises(TypeError):
            u.insert("c", "a", ["not", "a", "mapping"])
        with pytest.raises(ValueError):
            u.insert("", "a", {})
        with pytest.raises(ValueError):
            u.insert("c", 5, {})
        with pytest.raises(TypeError):
            u.audit({"x": {1, 2}})
        assert u.get("c", "a") is None
    assert u.result.documents == [] and s.stats()["units_committed"] == 0


def test_json_round_trip_of_odd_values(s):
    data = {"unicode": "é☃\U0001f600", "nested": {"a": [None, True, 1.5, -2]}, "quote": '"\\'}
    with s.transaction() as u:
        u.insert("c", "id with spaces/é", data)
    assert s.get("c", "id with spaces/é").data == data
    checkpoint(s)
    assert s.get("c", "id with spaces/é").data == data


# -- units of work ---------------------------------------------------------------
def test_rollback_on_exception_writes_nothing_and_consumes_no_seq(s):
    with s.transaction() as u:
        u.insert("c", "base", {}, publish=True)
    before_seq, before_bytes = s.last_seq(), journal_bytes(s)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), s.transaction() as u:
        u.insert("c", "a", {"x": 1}, publish=True)
        u.update("c", "base", {"y": 2}, expected_version=1, publish=True)
        u.audit({"what": "never"})
        raise Boom
    assert s.get("c", "a") is None and s.get("c", "base").version == 1
    assert s.last_seq() == before_seq and journal_bytes(s) == before_bytes
    assert list(s.audit_log()) == []
    with s.transaction() as u:
        d = u.insert("c", "b", {}, publish=True)
    assert d.seq == before_seq + 1


def test_own_writes_visible_inside_the_unit_only(s, tmp_path):
    import threading

    with s.transaction() as u:
        u.insert("c", "a", {"v": 1})
        assert u.get("c", "a").data == {"v": 1}
        u.update("c", "a", {"v": 2}, expected_version=1)
        assert u.get("c", "a").version == 2
        seen = []
        t = threading.Thread(target=lambda: seen.append(s.get("c", "a")))
        t.start()
        t.join()
        assert seen == [None]  # another thread sees nothing before commit
        u.delete("c", "a", expected_version=2)
        assert u.get("c", "a") is None
        u.insert("c", "a", {"v": 3})
    assert s.get("c", "a").data == {"v": 3} and s.get("c", "a").version == 1


def test_unit_of_work_cannot_be_used_after_the_block_and_cannot_nest(s):
    with s.transaction() as u:
        with pytest.raises(StoreError, match="inside a transaction"), s.transaction():
            pass
        for call in (s.verify, getattr(s, "checkpoint", s.verify), s.close):  # would deadlock on the unit's own lock
            with pytest.raises(StoreError, match="inside a transaction"):
                call()
        u.insert("c", "a", {})
    with pytest.raises(StoreError, match="ended"):
        u.insert("c", "b", {})


def test_savepoints(s):
    with s.transaction() as u:
        u.insert("c", "keep", {"v": 1}, publish=True)
        with pytest.raises(KeyError), u.savepoint():
            u.update("c", "keep", {"v": 2}, expected_version=1, publish=True)
            u.insert("c", "gone", {}, publish=True)
            u.audit({"what": "rolled back"})
            raise KeyError("x")
        assert u.get("c", "keep").data == {"v": 1} and u.get("c", "gone") is None
        with u.savepoint():  # a savepoint that succeeds keeps its writes
            u.insert("c", "inner-ok", {}, publish=True)
            try:
                with u.savepoint():  # nested: only the inner one is undone
                    u.insert("c", "inner-bad", {}, publish=True)
                    raise ValueError
            except ValueError:
                pass
        u.audit({"what": "kept"})
    assert s.get("c", "gone") is None and s.get("c", "inner-bad") is None
    assert s.get("c", "inner-ok") is not None and s.get("c", "keep").data == {"v": 1}
    assert [e.entry for e in s.audit_log()] == [{"what": "kept"}]
    # rolled-back writes consumed no seq: the feed is gap-free
    assert [d.seq for d in s.changes_since(0, 100)] == [1, 2] == list(range(1, s.last_seq() + 1))


def test_savepoint_failure_not_caught_rolls_back_the_whole_unit(s):
    with pytest.raises(RuntimeError), s.transaction() as u:
        u.insert("c", "a", {})
        with u.savepoint():
            raise RuntimeError
    assert s.get("c", "a") is None


def test_errors_from_the_store_inside_a_unit_can_be_handled(s):
    with s.transaction() as u:
        u.insert("c", "a", {})
    with s.transaction() as u:
        try:
            u.insert("c", "a", {})
        except DuplicateKey:
            u.insert("c", "b", {})
    assert s.get("c", "b") is not None


# -- change feed --------------------------------------------------------------------
def test_changes_since(s):
    with s.transaction() as u:
        for i in range(5):
            u.insert("cases", f"c{i}", {"i": i}, publish=True)
        u.insert("private", "p", {})  # not published: never in the feed
    with s.transaction() as u:
        u.update("cases", "c1", {"i": 10}, expected_version=1, publish=True)
        u.delete("cases", "c3", expected_version=1, publish=True)
    with s.transaction() as u:
        u.update("cases", "c1", {"i": 11}, expected_version=2, publish=True)
    feed = s.changes_since(0, 100)
    assert [(d.id, d.version, d.deleted) for d in feed] == [
        ("c0", 1, False), ("c2", 1, False), ("c4", 1, False), ("c3", 2, True), ("c1", 3, False)]
    assert feed[-1].data == {"i": 11} and feed[3].data == {}
    seqs = [d.seq for d in feed]
    assert seqs == sorted(seqs) and seqs[-1] == s.last_seq() == 8
    assert [d.id for d in s.changes_since(seqs[1], 2)] == ["c4", "c3"]
    assert s.changes_since(s.last_seq(), 10) == [] and s.changes_since(0, 0) == []
    # paging with any limit yields each document once, at its latest version
    for limit in (1, 2, 3, 100):
        cursor, got = 0, []
        while page := s.changes_since(cursor, limit):
            got += page
            cursor = page[-1].seq
        assert got == feed
    # a hard delete of a published document removes it from the feed
    with s.transaction() as u:
        u.delete("cases", "c0", expected_version=1)
    assert "c0" not in [d.id for d in s.changes_since(0, 100)]


def test_scan_changes_filters_by_key_before_reading(s):
    with s.transaction() as u:
        for i in range(6):
            u.insert("cases", f"c{i}", {"i": i}, publish=True)
        u.delete("cases", "c5", expected_version=1, publish=True)
    asked = []

    def keep(collection, doc_id, deleted):
        asked.append((collection, doc_id, deleted))
        return doc_id in ("c1", "c4", "c5")

    everything = s.changes_since(0, 100)
    docs, scanned = s.scan_changes(0, 3, keep)
    assert [d.id for d in docs] == ["c1"] and docs[0].data == {"i": 1}
    assert scanned == everything[2].seq and len(asked) == 3  # three entries scanned, one kept
    docs, scanned = s.scan_changes(scanned, 100, keep)
    assert [(d.id, d.deleted) for d in docs] == [("c4", False), ("c5", True)]
    assert scanned == s.last_seq() == everything[-1].seq
    assert ("cases", "c5", True) in asked  # keep() is told about tombstones
    assert s.scan_changes(scanned, 100, keep) == ([], scanned)  # nothing left: the seq stays put
    # the generic implementation of the interface agrees with the store's own
    from store.base import Store

    assert Store.scan_changes(s, 0, 100, keep)[0] == s.scan_changes(0, 100, keep)[0]


def test_version_of_reads_no_data(s):
    assert s.version_of("cases", "v") is None
    with s.transaction() as u:
        u.insert("cases", "v", {"n": 1}, publish=True)
    assert s.version_of("cases", "v") == 1
    with s.transaction() as u:
        u.update("cases", "v", {"n": 2}, expected_version=1, publish=True)
    assert s.version_of("cases", "v") == 2 == s.get("cases", "v").version
    with s.transaction() as u:
        u.delete("cases", "v", expected_version=2, publish=True)
    assert s.version_of("cases", "v") is None
    from store.base import Store

    assert Store.version_of(s, "cases", "v") is None


def test_seq_reused_for_a_document_rewritten_in_the_same_unit(s):
    with s.transaction() as u:
        a = u.insert("c", "a", {}, publish=True)
        b = u.insert("c", "b", {}, publish=True)
        a2 = u.update("c", "a", {"x": 1}, expected_version=1, publish=True)
    assert (a.seq, b.seq, a2.seq) == (1, 2, 1)
    assert [(d.id, d.seq, d.version) for d in s.changes_since(0, 10)] == [("a", 1, 2), ("b", 2, 1)]
    assert u.result.last_seq == 2 and {d.id: d.version for d in u.result.documents} == {"a": 2, "b": 1}


def test_feed_stays_correct_after_many_superseded_entries(tmp_path):
    with open_store(tmp_path, background_checkpoint=False) as s:
        with s.transaction() as u:
            for i in range(50):
                u.insert("c", f"d{i}", {"v": 0}, publish=True)
        for r in range(1, 201):  # 10,000 updates: the feed index compacts itself
            with s.transaction() as u:
                for i in range(50):
                    u.update("c", f"d{i}", {"v": r}, expected_version=r, publish=True)
        feed = s.changes_since(0, 1000)
        assert len(feed) == 50 and all(d.data == {"v": 200} for d in feed)
        assert len(s._feed_seq) < 5000  # compacted
        assert s.verify() == []


def test_scan(s):
    with s.transaction() as u:
        for i in range(10):
            u.insert("c", f"d{i}", {"i": i}, publish=True)
        u.insert("other", "x", {"i": 0})
    with s.transaction() as u:
        u.delete("c", "d0", expected_version=1, publish=True)
    assert sorted(d.id for d in s.scan("c")) == [f"d{i}" for i in range(1, 10)]
    assert sorted(d.data["i"] for d in s.scan("c", lambda d: d["i"] % 2 == 0)) == [2, 4, 6, 8]
    assert list(s.scan("nothing")) == []


# -- audit ----------------------------------------------------------------------------
def test_audit_chain_and_subjects(s):
    for i in range(6):
        with s.transaction() as u:
            u.audit({"what": "x", "i": i}, subject=f"case-{i % 2}")
            u.audit({"what": "no subject"})
    log = list(s.audit_log())
    assert [e.n for e in log] == list(range(1, 13))
    assert all(b.prev_hash == a.hash for a, b in zip(log, log[1:], strict=False))
    assert all(e.at.endswith("Z") and "T" in e.at for e in log)
    assert [e.entry["i"] for e in s.audit_log("case-1")] == [1, 3, 5]
    assert list(s.audit_log("nobody")) == []
    checkpoint(s)
    assert list(s.audit_log()) == log
    assert s.verify() == []


def _edit_audit(path, n: int, old: str, new: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    assert old in lines[n - 1]
    lines[n - 1] = lines[n - 1].replace(old, new)
    path.write_text("".join(lines))


def test_verify_detects_an_edited_audit_entry(tmp_path):
    d = tmp_path / "db"
    with open_store(d, background_checkpoint=False) as s:
        for i in range(5):
            with s.transaction() as u:
                u.audit({"who": "u1", "did": f"act{i}"}, subject="case-9")
        s.checkpoint()
        assert s.verify() == []
        seg = next((d / "audit").iterdir())
        _edit_audit(seg, 3, '"did":"act2"', '"did":"actX"')  # same length, while open
        problems = s.verify()
        assert any("audit entry 3" in p and "hash does not match" in p for p in problems), problems
        assert any("differs from the one committed" in p for p in problems)
    with open_store(d, background_checkpoint=False) as s:  # opens; verify names the entry
        problems = s.verify()
        assert any("audit entry 3" in p and "hash does not match" in p for p in problems), problems
        assert [e.entry["did"] for e in s.audit_log("case-9")][2] == "actX"
    # editing with a different length, and relinking the chain, are reported too
    _edit_audit(seg, 2, '"did":"act1"', '"did":"act-one"')
    from store import check_data_dir

    problems = check_data_dir(d)
    assert any("audit entry 2" in p for p in problems) and any("audit entry 3" in p for p in problems)


def test_verify_detects_edited_shard_file(tmp_path):
    d = tmp_path / "db"
    with open_store(d, background_checkpoint=False) as s:
        with s.transaction() as u:
            u.insert("cases", "c1", {"status": "open"})
        s.checkpoint()
        shard = next((d / "shards").iterdir())
        shard.write_text(shard.read_text().replace('"open"', '"shut"'))
        problems = s.verify()
        assert any("checksum" in p for p in problems) and any("differs from the committed" in p for p in problems)


# -- persistence -----------------------------------------------------------------
def _fill(s, n=30):
    for i in range(n):
        with s.transaction() as u:
            u.insert("c", f"d{i}", {"i": i}, publish=True)
            if i:
                prev = u.get("c", f"d{i - 1}")
                u.update("c", f"d{i - 1}", {"i": i - 1, "next": i}, expected_version=prev.version, publish=True)
            u.audit({"i": i}, subject=f"s{i % 3}")


def _state(s):
    return ([(d.id, d.version, d.seq, d.data) for d in sorted(s.scan("c"), key=lambda d: d.id)],
            s.changes_since(0, 1000), list(s.audit_log()), s.last_seq(), s.store_id)


@pytest.mark.parametrize("checkpoint", ["none", "all", "half"])
def test_reopen_keeps_everything(tmp_path, checkpoint):
    d = tmp_path / "db"
    with open_store(d, background_checkpoint=False, checkpoint_records=10**9) as s:
        _fill(s, 15)
        if checkpoint != "none":
            s.checkpoint()
        _fill_more = checkpoint != "all"
        if _fill_more:
            for i in range(15, 30):
                with s.transaction() as u:
                    u.insert("c", f"d{i}", {"i": i}, publish=True)
                    u.audit({"i": i}, subject=f"s{i % 3}")
        before = _state(s)
        assert s.stats()["checkpoint"] == (0 if checkpoint == "none" else 1)
    with open_store(d, background_checkpoint=False) as s:
        assert _state(s) == before
        assert s.verify() == []
        with s.transaction() as u:  # goes on where it left off
            assert u.insert("c", "new", {}, publish=True).seq == before[3] + 1
        assert list(s.audit_log())[-1].n == len(before[2])


def test_shard_files_are_tinydb_databases_holding_the_documents(tmp_path):
    from tinydb import TinyDB

    d = tmp_path / "db"
    with open_store(d, background_checkpoint=False, shard_max_docs=16) as s:
        with s.transaction() as u:
            for i in range(200):
                u.insert("cases", f"c{i}", {"i": i}, publish=True)
            u.insert("users", "u1", {"name": "x"})
        s.checkpoint()
        files = sorted((d / "shards").iterdir())
        assert len(files) >= 200 // 16
        found = {}
        for f in files:
            db = open_shard(str(f))
            for name in db.tables():
                for doc in db.table(name).all():
                    found[(name, doc.doc_id)] = doc
            assert len(json.loads(f.read_text()).get("cases", {})) <= 16  # shards stay bounded
        assert len(found) == 201 and found[("cases", "c7")]["data"] == {"i": 7}
        db = open_shard(str(files[0]))
        some_id = next(iter(json.loads(files[0].read_text())["cases"]))
        assert db.table("cases").get(doc_id=some_id)["version"] == 1
        plain = TinyDB(str(files[0]), access_mode="r")  # stock TinyDB reads the file too
        assert "cases" in plain.tables()
        plain.close()


def test_checkpoint_rewrites_only_what_changed(tmp_path):
    d = tmp_path / "db"
    with open_store(d, background_checkpoint=False, shard_max_docs=32) as s:
        with s.transaction() as u:
            for i in range(2000):
                u.insert("c", f"d{i}", {"i": i})
        s.checkpoint()
        n_shards = s.stats()["shards"]
        assert n_shards >= 2000 // 32
        with s.transaction() as u:
            u.update("c", "d5", {"i": -5}, expected_version=1)
        s.checkpoint()
        new = [f for f in (d / "shards").iterdir() if f.name.endswith(f".c{s.stats()['checkpoint']:08d}.json")]
        assert len(new) == 1 and len(list((d / "shards").iterdir())) == n_shards
        assert s.checkpoint() is False  # nothing to do
    with open_store(d) as s:
        assert s.get("c", "d5").data == {"i": -5}


def test_background_checkpoints_keep_the_journal_short(tmp_path):
    d = tmp_path / "db"
    with open_store(d, checkpoint_records=20, shard_max_docs=8) as s:
        _fill(s, 120)
        deadline = time.monotonic() + 10
        while s.stats()["checkpoints_this_session"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert s.stats()["checkpoints_this_session"] >= 1  # the background thread did it, unasked
        s.checkpoint()
        st = s.stats()
        assert st["shards"] > 4 and st["checkpoint_error"] is None and st["records_since_checkpoint"] == 0
        before = _state(s)
    assert len(list((d / "journal").iterdir())) == 1
    with open_store(d) as s:
        assert _state(s) == before and s.verify() == []


def test_closed_store_refuses_work(tmp_path):
    s = open_store(tmp_path)
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        s.get("c", "x")
    with pytest.raises(StoreError, match="closed"), s.transaction():
        pass


def test_prefetch_answers_what_single_reads_answer(s):
    with s.transaction() as u:
        u.insert("cases", "p1", {"n": 1}, publish=True)
        u.insert("cases", "p2", {"n": 2})
    with s.transaction() as u:
        u.update("cases", "p2", {"n": 22}, expected_version=1)
        u.prefetch([("cases", "p1"), ("cases", "p2"), ("cases", "nope"), ("cases", "p1")])
        assert u.get("cases", "p1").data == {"n": 1} and u.get("cases", "p1").version == 1
        assert u.get("cases", "p2").data == {"n": 22}  # this unit's own write, not the committed one
        assert u.get("cases", "nope") is None
        u.insert("cases", "nope", {"n": 3})
        with pytest.raises(DuplicateKey):
            u.insert("cases", "p1", {"n": 9})
    assert s.get("cases", "nope").data == {"n": 3}
    assert s.get("cases", "p2").version == 2


def test_one_unit_commits_many_writes_and_a_lost_compare_and_set_undoes_all(s):
    """The PostgreSQL commit writes each kind of change with one statement: a stale version among
    many still raises VersionConflict naming it, and nothing of the unit is written."""
    with s.transaction() as u:
        for i in range(30):
            u.insert("cases", f"m{i}", {"i": i}, publish=i % 2 == 0)
        u.audit({"event": "many"}, subject="m0")
    with s.transaction() as u:
        for i in range(30):
            u.update("cases", f"m{i}", {"i": -i}, expected_version=1, publish=True)
        u.delete("cases", "m29", expected_version=2, publish=True)
        u.insert("cases", "m30", {"i": 30}, publish=True)
    assert [s.get("cases", f"m{i}").data["i"] for i in range(29)] == [-i for i in range(29)]
    assert s.get("cases", "m29") is None and s.get("cases", "m30").version == 1
    if not hasattr(s, "url"):
        return  # the embedded store serialises its units: no other writer can commit in between
    other = open_store(s.url)  # another server process
    before = s.last_seq()
    try:
        with pytest.raises(VersionConflict) as exc, s.transaction() as u:
            for i in range(12):
                u.update("cases", f"m{i}", {"i": 0}, expected_version=2)
            with other.transaction() as o:  # commits first, with a unit of its own
                o.update("cases", "m7", {"i": 77}, expected_version=2)
    finally:
        other.close()
    assert (exc.value.doc_id, exc.value.expected, exc.value.actual) == ("m7", 2, 3)
    assert s.last_seq() == before and s.get("cases", "m1").data == {"i": -1}
    assert s.get("cases", "m7").data == {"i": 77}
    assert s.verify() == []


def test_a_store_read_inside_a_unit_uses_the_units_connection(pg_url):
    """A handler asks the store itself (the directory) while its unit is open: with one pooled
    connection per thread that read waited for a second one (a deadlock once every connection was
    held by a unit); it runs on the unit's own connection and sees what is committed."""
    st = open_store(pg_url, pool_size=1)
    try:
        with st.transaction() as u:
            u.insert("users", "u1", {"p": "x"})
        with st.transaction() as u:
            u.insert("users", "u2", {"p": "x"})
            assert [d.id for d in st.scan("users")] == ["u1"]  # committed state, not the unit's
            assert st.get("users", "u1").data == {"p": "x"} and st.get("users", "u2") is None
        assert sorted(d.id for d in st.scan("users")) == ["u1", "u2"]
    finally:
        st.close()


def test_committed_records_are_not_tracked_by_the_cyclic_garbage_collector(tmp_path):
    """A full collection walks every tracked object: a pause for every thread that grew with the
    store. A record holds only ints, a bool and a str, so it can be left to reference counting."""
    import gc
    import platform

    with open_store(tmp_path / "db", background_checkpoint=False) as s:
        with s.transaction() as u:
            u.insert("c", "a", {"x": 1})
            u.insert("c", "b", {"x": 2})
        with s.transaction() as u:
            u.update("c", "a", {"x": 3}, expected_version=1)
            u.delete("c", "b", expected_version=1)
        recs = list(s._colls["c"].values())
        assert recs
        if platform.python_implementation() == "CPython":
            assert not any(gc.is_tracked(r) for r in recs)
        del recs
        gc.collect()
        assert s.get("c", "a").data == {"x": 3} and s.get("c", "b") is None


def test_a_checkpoint_that_fails_mid_write_after_a_split_leaves_everything_to_the_next(tmp_path, monkeypatch):
    from store.files import AtomicJSONStorage

    d = tmp_path / "db"
    with open_store(d, background_checkpoint=False, shard_max_docs=8) as s:
        with s.transaction() as u:
            for i in range(200):
                u.insert("c", f"d{i}", {"i": i})
        real, calls = AtomicJSONStorage.write_text, []

        def failing(self, text):
            calls.append(self.path)
            if len(calls) == 5:
                raise OSError("disk full")
            return real(self, text)

        monkeypatch.setattr(AtomicJSONStorage, "write_text", failing)
        with pytest.raises(OSError, match="disk full"):
            s.checkpoint()
        monkeypatch.setattr(AtomicJSONStorage, "write_text", real)
        st = s.stats()
        assert st["checkpoint"] == 0 and st["shards"] > 1  # a shard was split before the failure
        assert s.checkpoint() is True
        before = _state(s)
        assert s.verify() == []
    for f in (d / "journal").iterdir():  # everything must now come from the shards alone
        f.write_bytes(b"")
    with open_store(d) as s:
        assert _state(s) == before and s.verify() == []
