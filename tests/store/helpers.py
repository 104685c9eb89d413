"""Shared helpers of the store tests: the writer subprocess and the checker of its invariants."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tinydb

from store import Store

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("writer.py")
SITE = Path(tinydb.__file__).resolve().parents[1]  # where the store's one dependency lives


def writer_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CASEFLOW_CRASH_AT"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(SITE)])
    env.update(extra)
    return env


def start_writer(data_dir: Path, ck_records: int, mode: str, max_units: int | None = None,
                 **env: str) -> subprocess.Popen:
    # -S: skip site initialisation (a third of the start-up time); PYTHONPATH names what it needs
    args = [sys.executable, "-S", str(WRITER), str(data_dir), str(ck_records), mode]
    if max_units is not None:
        args.append(str(max_units))
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=writer_env(**env))


def check_units(s: Store, acked_max: int) -> int:
    """Check the writer's invariants after a crash; returns L, the last unit present.

    Every unit <= L is fully present (documents, deletes, audit entry); no trace of any unit > L;
    every acknowledged unit is <= L; savepoint writes never persisted; the feed matches."""
    counter = s.get("meta", "counter")
    last = counter.data["last"] if counter else 0
    assert last >= acked_max, f"acknowledged unit {acked_max} lost (store has up to {last})"
    for u in range(1, last + 1):
        x0, x1, x2 = (s.get("units", f"x{u}-{j}") for j in range(3))
        assert x0 is not None and x0.data["unit"] == u, f"unit {u}: x{u}-0 missing"
        hard_deleted = u >= 10 and u % 10 == 0 and u + 10 <= last
        assert (x1 is None) == hard_deleted, f"unit {u}: x{u}-1 wrong ({x1})"
        assert (x2 is None) == (u + 5 <= last), f"unit {u}: x{u}-2 wrong ({x2})"
        entries = list(s.audit_log(f"unit-{u}"))
        assert [e.entry for e in entries] == [{"unit": u}], f"unit {u}: audit {entries}"
        assert s.get("units", f"tmp{u}") is None
    for u in range(last + 1, last + 30):  # nothing of a later unit, not even half of it
        assert all(s.get("units", f"x{u}-{j}") is None for j in range(3)), f"unit {u} half-applied"
        assert list(s.audit_log(f"unit-{u}")) == []
    assert len(list(s.audit_log())) == last
    feed = s.changes_since(0, 10**9)
    hard = sum(1 for k in range(10, last + 1, 10) if k + 10 <= last)
    assert len(feed) == (3 * last - hard + (1 if last else 0))
    assert sum(1 for d in feed if d.deleted) == max(0, last - 5)
    seqs = [d.seq for d in feed]
    assert seqs == sorted(set(seqs))
    assert s.last_seq() == (seqs[-1] if seqs else 0)
    return last
