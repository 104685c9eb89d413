"""kill -9 proof: a writer subprocess is SIGKILLed at random moments; every acknowledged unit of
work must survive, no unit may be half-present, and ``verify()`` must be clean after each reopen.
Also: a torn journal tail, a flipped byte in an older journal record, and every CASEFLOW_CRASH_AT hook."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from store import StoreCorrupt, open_store
from store import journal as jr
from store.tinystore import CRASH_HOOKS

WRITER = str(Path(__file__).with_name("kill_writer.py"))
KILLS_PER_LOOP = 110
LOOPS = 2
KILLS_PER_DIR = 22


def _quiet_open(path):
    """Open without letting the checker itself checkpoint (the writer's runs do that)."""
    return open_store(path, background_checkpoint=False, checkpoint_bytes=1 << 62, checkpoint_records=1 << 62)


def _start(path, *args, env=None):
    return subprocess.Popen([sys.executable, WRITER, str(path), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _acked(out: str) -> set[int]:
    return {int(line) for line in out.splitlines() if line.strip().isdigit()}


def check_store(path, acked: set[int]) -> int:
    """Reopen; assert all-or-nothing units, acknowledged ones present, verify() clean. Returns units present."""
    with _quiet_open(path) as s:
        audit = [e.entry["unit"] for e in s.audit_log()]
        assert audit == list(range(1, len(audit) + 1)), "audit units are not 1..n in order"
        parts = Counter(d.data["unit"] for d in s.scan("units"))
        half = {u: c for u, c in parts.items() if c != 3}
        assert not half, f"half-present units: {half}"
        assert set(parts) == set(audit), (
            f"documents and audit disagree: docs-only {sorted(set(parts) - set(audit))[:5]}, "
            f"audit-only {sorted(set(audit) - set(parts))[:5]}")
        missing = acked - set(audit)
        assert not missing, f"acknowledged units lost: {sorted(missing)[:10]}"
        feed = s.changes_since(0, 1 << 30)
        assert len(feed) == len(audit) and [d.seq for d in feed] == list(range(1, len(feed) + 1))
        assert s.open_problems == []
        problems = s.verify()
        assert problems == [], problems
        return len(audit)


def _kill_loop(root: Path, kills: int, seed: int, result: dict) -> None:
    rng = random.Random(seed)
    acked: set[int] = set()
    done = total_acked = 0
    for k in range(kills):
        if k % KILLS_PER_DIR == 0:  # a fresh store now and then keeps each reopen + verify() cheap
            path = root / f"run{k // KILLS_PER_DIR}"
            total_acked += len(acked)
            acked = set()
        p = _start(path)
        line = p.stdout.readline()
        if not line.startswith("ready"):
            p.kill()
            _, err = p.communicate()
            raise AssertionError(f"writer did not start: {line!r} {err}")
        time.sleep(rng.uniform(0, 0.150))
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        assert p.returncode == -signal.SIGKILL, (p.returncode, err)
        acked |= _acked(out)
        check_store(path, acked)
        done += 1
    result["kills"] = done
    result["acked"] = total_acked + len(acked)
    result["last"] = path


@pytest.mark.slow
def test_kill_9_at_random_moments(tmp_path):
    results: list[dict] = [{} for _ in range(LOOPS)]
    errors: list[BaseException] = []

    def run(i):
        try:
            _kill_loop(tmp_path / f"d{i}", KILLS_PER_LOOP, 1000 + i, results[i])
        except BaseException as exc:
            errors.append(exc)

    started = time.monotonic()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(LOOPS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    kills = sum(r["kills"] for r in results)
    acked = sum(r["acked"] for r in results)
    print(f"\n{kills} SIGKILLs, {acked} acknowledged units, {time.monotonic() - started:.1f}s")
    assert kills >= 200
    assert acked > kills, "the writers barely wrote anything before being killed"
    # the kills did land while checkpoints were being taken over the runs
    for r in results:
        with _quiet_open(r["last"]) as s:
            assert s.stats()["checkpoint"] > 0


def _run_units(path, n, ckpt=1 << 40, background=1, env=None) -> set[int]:
    p = _start(path, ckpt, n, background, env=env)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    return _acked(out)


def _records(path):
    scan = jr.scan_segment(path, last=True)
    out = []
    for off, payload in scan.records:
        units = {op[5]["unit"] for op in json.loads(payload)["ops"]}
        out.append((off, off + jr.HEADER_SIZE + len(payload), units))
    return out


def _newest_segment(d: Path) -> Path:
    return d / "journal" / jr.segment_name(jr.list_segments(str(d / "journal"))[-1])


def test_torn_journal_tail_loses_only_unacknowledged_work(tmp_path):
    rng = random.Random(7)
    for trial in range(12):
        d = tmp_path / f"t{trial}"
        acked = _run_units(d, 30)  # no checkpoint: everything is in one journal segment
        seg = _newest_segment(d)
        recs = _records(seg)
        if trial % 2 == 0:  # a realistic torn write: cut inside the last record
            start, end, units = recs[-1]
            cut = rng.randrange(start + 1, end)
        else:  # anywhere in the file
            cut = rng.randrange(0, seg.stat().st_size)
        with open(seg, "r+b") as f:
            f.truncate(cut)
        lost = set().union(*(u for s_, e, u in recs if e > cut))
        kept = acked - lost  # the truncated records count as never acknowledged
        present = check_store(d, kept)
        assert present == len(kept)
        assert seg.stat().st_size == max([e for _, e, _ in recs if e <= cut], default=0)
        with _quiet_open(d) as s:
            assert s.recovery_notes == []  # the tail was dropped by the first open: nothing left to repair


def test_torn_tail_after_real_kill(tmp_path):
    d = tmp_path / "d"
    p = _start(d, 1 << 40)
    assert p.stdout.readline().startswith("ready")
    time.sleep(0.1)
    os.kill(p.pid, signal.SIGKILL)
    out, _ = p.communicate()
    acked = _acked(out)
    seg = _newest_segment(d)
    recs = _records(seg)
    start, end, units = recs[-1]
    with open(seg, "r+b") as f:
        f.truncate(random.randrange(start + 1, end))
    with _quiet_open(d) as s:
        assert any("torn tail" in n for n in s.recovery_notes), s.recovery_notes
    check_store(d, acked - units)


def test_flipped_byte_in_older_record_is_refused(tmp_path):
    d = tmp_path / "d"
    _run_units(d, 20)
    seg = _newest_segment(d)
    recs = _records(seg)
    start, end, _ = recs[len(recs) // 2]
    pos = (start + jr.HEADER_SIZE + end) // 2  # middle of the payload
    raw = bytearray(seg.read_bytes())
    raw[pos] ^= 0x20
    seg.write_bytes(bytes(raw))
    with pytest.raises(StoreCorrupt) as ei:
        _quiet_open(d)
    msg = str(ei.value)
    assert str(seg) in msg and f"byte offset {start}" in msg, msg
    assert seg.stat().st_size == len(raw), "a corrupt journal must not be truncated"
    with pytest.raises(StoreCorrupt):  # still refused, nothing was "repaired"
        _quiet_open(d)


def test_flipped_header_byte_in_older_record_is_refused(tmp_path):
    d = tmp_path / "d"
    _run_units(d, 10)
    seg = _newest_segment(d)
    start, _, _ = _records(seg)[3]
    raw = bytearray(seg.read_bytes())
    raw[start + 5] ^= 0x01  # the length field
    seg.write_bytes(bytes(raw))
    with pytest.raises(StoreCorrupt, match=str(seg)):
        _quiet_open(d)


@pytest.mark.parametrize("hook", CRASH_HOOKS)
def test_crash_hook(tmp_path, hook):
    d = tmp_path / "d"
    base = _run_units(d, 5)  # some committed history first
    env = dict(os.environ, CASEFLOW_CRASH_AT=f"{hook}:3")
    # during_checkpoint: an inline checkpoint after every unit; the others never checkpoint
    ckpt, background = (1, 0) if hook == "during_checkpoint" else (1 << 40, 1)
    p = _start(d, ckpt, 1000, background, env=env)
    out, err = p.communicate(timeout=120)
    assert p.returncode == -signal.SIGKILL, (p.returncode, err)
    acked = base | _acked(out)
    present = check_store(d, acked)
    # the unit that was being committed when the hook fired:
    if hook in ("before_journal_write", "mid_journal_write"):
        assert present == len(acked), "a unit that never fully reached the journal must be absent"
    elif hook == "after_fsync_before_apply":
        assert present == len(acked) + 1, "a unit that was fsynced must survive even though it was not acknowledged"
    elif hook == "after_journal_write_before_fsync":
        assert present in (len(acked), len(acked) + 1)  # in the page cache: survives a process kill
    else:  # during_checkpoint: the checkpoint runs after the unit committed, before it was printed
        assert present == len(acked) + 1
    with _quiet_open(d) as s:
        if hook == "mid_journal_write":
            pass  # the torn half-record was dropped by check_store's open; nothing left now
        assert s.recovery_notes == []
    # the store keeps working after recovery
    more = _run_units(d, 3)
    assert check_store(d, acked | more) == present + 3
