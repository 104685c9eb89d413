"""A threaded server's view: many threads writing and reading one store; a second process refused."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading

import pytest

from store import StoreLocked, VersionConflict, open_store
from tests.store.helpers import writer_env

THREADS, UNITS = 8, 60


def test_threads_hammering_transactions_and_reads(tmp_path):
    """8 writer threads (compare-and-set on a shared counter + their own documents + audit), 3 reader
    threads paging the feed and reading by id, background checkpoints splitting shards meanwhile."""
    s = open_store(tmp_path / "db", checkpoint_records=25, shard_max_docs=16)
    with s.transaction() as u:
        u.insert("ctr", "n", {"n": 0}, publish=True)
    committed_seqs: list[int] = []
    result_lock = threading.Lock()
    errors: list[BaseException] = []
    conflicts = [0]
    stop = threading.Event()

    def writer(t: int) -> None:
        rng = random.Random(t)
        try:
            for i in range(UNITS):
                while True:
                    cur = s.get("ctr", "n")  # read outside the unit: CAS must catch races
                    try:
                        with s.transaction() as u:
                            u.update("ctr", "n", {"n": cur.data["n"] + 1}, expected_version=cur.version,
                                     publish=True)
                            u.insert("docs", f"t{t}-{i}", {"t": t, "i": i, "pad": "x" * rng.randrange(600)},
                                     publish=True)
                            if i and i % 5 == 0:
                                prev = u.get("docs", f"t{t}-{i - 1}")
                                u.update("docs", prev.id, {**prev.data, "touched": True},
                                         expected_version=prev.version, publish=True)
                            u.audit({"t": t, "i": i}, subject=f"t{t}")
                        break
                    except VersionConflict:
                        with result_lock:
                            conflicts[0] += 1
                with result_lock:
                    committed_seqs.extend(d.seq for d in u.result.documents)
        except BaseException as exc:
            errors.append(exc)

    def reader(r: int) -> None:
        rng = random.Random(100 + r)
        try:
            while not stop.is_set():
                cursor = 0
                while page := s.changes_since(cursor, rng.choice([1, 7, 50])):
                    seqs = [d.seq for d in page]
                    assert seqs == sorted(set(seqs)) and seqs[0] > cursor and seqs[-1] <= s.last_seq()
                    cursor = seqs[-1]
                d = s.get("docs", f"t{rng.randrange(THREADS)}-{rng.randrange(UNITS)}")
                assert d is None or d.data["t"] >= 0
                c = s.get("ctr", "n")
                assert c.version == c.data["n"] + 1  # never a half-applied unit
        except BaseException as exc:
            errors.append(exc)

    ws = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
    rs = [threading.Thread(target=reader, args=(r,)) for r in range(3)]
    for t in ws + rs:
        t.start()
    for t in ws:
        t.join()
    stop.set()
    for t in rs:
        t.join()
    assert not errors, errors[0]
    total = THREADS * UNITS
    assert s.get("ctr", "n").data["n"] == total
    assert conflicts[0] > 0, "no compare-and-set race happened; the test is too gentle"
    # every seq handed out by a commit is unique, and together they are gap-free
    assert len(committed_seqs) == len(set(committed_seqs))
    assert sorted(committed_seqs) == list(range(2, s.last_seq() + 1))
    feed = s.changes_since(0, 10**6)
    assert len(feed) == total + 1 and len({(d.collection, d.id) for d in feed}) == total + 1
    assert all(len(list(s.audit_log(f"t{t}"))) == UNITS for t in range(THREADS))
    assert s.verify() == []
    assert s.stats()["checkpoints_this_session"] > 0 and s.stats()["checkpoint_error"] is None
    before = ([(d.collection, d.id, d.version, d.seq, d.data) for d in feed], list(s.audit_log()))
    s.close()
    with open_store(tmp_path / "db") as s2:
        feed2 = s2.changes_since(0, 10**6)
        assert ([(d.collection, d.id, d.version, d.seq, d.data) for d in feed2], list(s2.audit_log())) == before
        assert s2.verify() == []


LOCK_PROBE = """
import sys
from store import open_store, StoreLocked
try:
    s = open_store(sys.argv[1])
except StoreLocked as e:
    print("LOCKED", e)
    sys.exit(3)
s.close()
print("OPENED")
"""


def _probe(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LOCK_PROBE, str(path)], capture_output=True, text=True,
                          timeout=60, env=writer_env())


def test_second_process_is_refused_with_store_locked(tmp_path):
    s = open_store(tmp_path / "db")
    try:
        r = _probe(tmp_path / "db")
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert s.path in r.stdout and f"process {os.getpid()}" in r.stdout and "only one process" in r.stdout
        with pytest.raises(StoreLocked):  # a second open in the same process too
            open_store(tmp_path / "db")
    finally:
        s.close()
    r = _probe(tmp_path / "db")  # released on close
    assert r.returncode == 0 and "OPENED" in r.stdout, r.stderr


def test_lock_is_released_when_the_holder_dies(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "import sys, time; from store import open_store; "
                          "s = open_store(sys.argv[1]); print('ok', flush=True); time.sleep(60)", str(tmp_path)],
                         stdout=subprocess.PIPE, text=True, env=writer_env())
    try:
        assert p.stdout.readline().strip() == "ok"
        with pytest.raises(StoreLocked):
            open_store(tmp_path)
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
    with open_store(tmp_path) as s:
        assert s.verify() == []
