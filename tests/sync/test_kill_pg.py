"""SIGKILL of gunicorn workers of ``caseflow serve --store postgresql://… --workers 2`` during sync
batches (the harness of ``test_kill_serve.py``): the master starts a new worker, devices retry, and
nothing acknowledged is lost or applied twice; ``store check`` and ``audit verify`` pass on the database.

Each kill lands on work in progress by construction: the victim is the worker that logged
``push.applying`` (the line carries its pid) in this round, killed 0-20 ms later (``batch``, two kills
in three) or as soon as it logs that push's commit (``answer``: its answer is then often lost after
the commit). A kill counts only once the master's log says it reaped that worker with SIGKILL.
After each kill, while the master serves on, the database must pass ``verify()`` and hold every
answer the devices got so far: a failure names the kill and the seed."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from store import open_store
from tests.faults import at_least, floor, record_kills
from tests.support import LiveServer
from tests.sync.harness import Fleet
from tests.sync.test_kill_serve import caseflow, check_answers, committed, in_flight, wait_for_commits

KILLS = floor("test_sigkill_of_gunicorn_workers_on_postgres_applies_everything_exactly_once")
BUSY = 4  # of the KILLS: the killed worker had logged push.applying and not yet that push's commit
WAIT = 60.0  # seconds for the master to reap a killed worker, or a device's round to end (loaded CI box)


def applying_pid(srv: LiveServer, since: int) -> int:
    """The pid of the worker that logged the latest ``push.applying`` (of the first ``since``+1 or more)."""
    lines = [json.loads(line) for line in srv.log().splitlines() if '"msg": "push.applying"' in line]
    assert len(lines) > since, "wait_for_commits saw a push.applying line that is gone"
    return lines[-1]["pid"]


def pushes(srv: LiveServer, pid: int) -> int:
    """How many pushes worker ``pid`` has committed (its ``push`` summary lines)."""
    return sum(1 for line in srv.log().splitlines()
               if '"msg": "push",' in line and json.loads(line).get("pid") == pid)


def wait_for_commit(srv: LiveServer, pid: int, before: int, threads) -> None:
    """Until worker ``pid`` logged a push's commit beyond ``before`` (or the devices stopped pushing)."""
    deadline = time.monotonic() + WAIT
    while pushes(srv, pid) <= before and any(t.is_alive() for t in threads):
        assert time.monotonic() < deadline, f"worker {pid} committed no push in {WAIT:.0f} s after push.applying"
        time.sleep(0.0005)


def wait_reaped(srv: LiveServer, pid: int, what: str) -> None:
    """Until the gunicorn master logged that it reaped ``pid`` killed by SIGKILL."""
    said = f"Worker (pid:{pid}) was sent SIGKILL!"
    deadline = time.monotonic() + WAIT
    while said not in srv.log():
        assert srv.proc.poll() is None, (f"{what}: the gunicorn master exited ({srv.proc.returncode}): "
                                         f"{srv.log()[-3000:]}")
        assert time.monotonic() < deadline, (f"{what}: the master did not log reaping worker {pid} by SIGKILL "
                                             f"within {WAIT:.0f} s: {srv.log()[-2000:]}")
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.kills
@pytest.mark.timeout(600)  # a hang ceiling for a loaded machine; each wait has its own deadline
def test_sigkill_of_gunicorn_workers_on_postgres_applies_everything_exactly_once(request, tmp_path, pg_url):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data = tmp_path / "data"
    srv = LiveServer(data, env={"CASEFLOW_STORE": pg_url, "CASEFLOW_WORKERS": "2"}).start(timeout=120)
    kills = rounds = busy = gone = 0
    started = time.monotonic()
    checking = 0.0  # seconds spent on the per-kill checks
    fleet = None
    store = open_store(pg_url)  # the per-kill checks read the database while the master serves on
    try:
        fleet = Fleet(tmp_path, srv.url, rng)
        while kills < KILLS:
            rounds += 1
            fleet.queue_offline_work()
            mark = committed(srv)
            threads, errors = fleet.start_syncing()
            while kills < KILLS:
                if not wait_for_commits(srv, mark, threads):  # the round synced before a worker began a push
                    break
                victim = applying_pid(srv, mark)
                plan = "answer" if kills % 3 == 2 else "batch"  # a fixed share of each: steady floors
                if plan == "answer":
                    wait_for_commit(srv, victim, pushes(srv, victim), threads)
                else:
                    time.sleep(rng.uniform(0.0, 0.02))
                what = f"kill #{kills + 1} ({plan}, worker {victim}, seed {seed})"
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:  # it died already (reaped and replaced): not a kill of ours
                    gone += 1
                    assert gone <= KILLS, f"{gone} workers that logged push.applying were gone before their kill"
                    mark = committed(srv)
                    continue
                wait_reaped(srv, victim, what)
                kills += 1
                busy += in_flight(srv, victim)
                t0 = time.monotonic()
                check_answers(store, dict(fleet.answered), what)
                checking += time.monotonic() - t0
                mark = committed(srv)
            for t in threads:
                t.join(WAIT * 2)
                assert not t.is_alive(), (f"a device was still syncing {WAIT * 2:.0f} s after the round's last kill "
                                          f"(seed {seed})")
            assert not errors, errors
        fleet.converge()
    finally:
        if fleet:
            fleet.stop.set()
        store.close()
        srv.stop()
    for args in (("store", "check"), ("audit", "verify")):
        out = caseflow(*args, "--store", pg_url)
        assert out.returncode == 0, (args, out.stdout, out.stderr)
    stats = fleet.check_store(data, pg_url)
    retries = fleet.retries
    # a first answer of "duplicate": the push was committed but its answer died with the worker
    cut = sum(r["status"] == "duplicate" for r in fleet.acked.values())
    print(f"\nkill pg test (seed {seed}): {kills} SIGKILLs of gunicorn workers during push/pull ({busy} with a push "
          f"in flight in the killed worker, {gone} victims gone first), {cut} answers lost after commit, {rounds} "
          f"rounds, {retries} retried requests, {time.monotonic() - started:.1f}s ({checking:.1f}s of per-kill "
          f"checks); {stats}")
    record_kills(request, kills, what="SIGKILLs of gunicorn workers on PostgreSQL")
    at_least("kills with a push in flight (push.applying logged, its push line not)", busy, BUSY,
             "a kill must catch a push inside its unit of work, not only between pushes")
    at_least("answers lost after commit (first answer `duplicate`)", cut, 3,
             "a kill among pushes must catch some committed batches before their answers")
    at_least("retried requests", retries, kills, "every kill interrupts at least one device's request")
    at_least("mutations applied", stats.get("applied", 0), 4,
             "the devices' work got through (how much fits between 12 kills varies: one run applied 8)")
    at_least("typed values kept", stats.get("values_kept", 0), 4, "edits reached the record")
