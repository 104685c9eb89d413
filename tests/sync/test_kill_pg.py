"""SIGKILL of gunicorn workers of ``caseflow serve --store postgresql://… --workers 2`` during sync
batches (the harness of ``test_kill_serve.py``): the master starts a new worker, devices retry, and
nothing acknowledged is lost or applied twice; ``store check`` and ``audit verify`` pass on the database."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from tests.faults import floor, record_kills
from tests.support import LiveServer
from tests.sync.harness import Fleet
from tests.sync.test_kill_serve import caseflow, committed, wait_for_commits

KILLS = floor("test_sigkill_of_gunicorn_workers_on_postgres_applies_everything_exactly_once")  # each respawn
# rebuilds the app in a new worker (seconds on a loaded machine): few kills, each on a batch in progress


def workers(srv: LiveServer) -> list[int]:
    """The gunicorn master's children: its worker processes."""
    pids = []
    for task in os.listdir(f"/proc/{srv.proc.pid}/task"):
        with open(f"/proc/{srv.proc.pid}/task/{task}/children") as f:
            pids += [int(p) for p in f.read().split()]
    return pids


def wait_for_workers(srv: LiveServer, n: int, timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = workers(srv)
        if len(pids) >= n:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"gunicorn did not bring back {n} workers: {srv.log()[-2000:]}")


@pytest.mark.slow
@pytest.mark.kills
def test_sigkill_of_gunicorn_workers_on_postgres_applies_everything_exactly_once(request, tmp_path, pg_url):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data = tmp_path / "data"
    srv = LiveServer(data, env={"CASEFLOW_STORE": pg_url, "CASEFLOW_WORKERS": "2"}).start(timeout=120)
    kills = rounds = 0
    started = time.monotonic()
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
                time.sleep(rng.uniform(0.0, 0.05))
                if not any(t.is_alive() for t in threads):
                    break
                victim = rng.choice(wait_for_workers(srv, 2))
                os.kill(victim, signal.SIGKILL)
                kills += 1  # a kill only ever follows a push begun in this round (work in progress)
                mark = committed(srv)
            for t in threads:
                t.join()
            assert not errors, errors
        fleet.converge()
    finally:
        srv.stop()
    for args in (("store", "check"), ("audit", "verify")):
        out = caseflow(*args, "--store", pg_url)
        assert out.returncode == 0, (args, out.stdout, out.stderr)
    stats = fleet.check_store(data, pg_url)
    print(f"\nkill pg test (seed {seed}): {kills} SIGKILLs of gunicorn workers during push/pull, {rounds} rounds, "
          f"{fleet.retries} retried requests, {time.monotonic() - started:.1f}s; {stats}")
    assert stats["applied"] > 0
    record_kills(request, kills, what="SIGKILLs of gunicorn workers on PostgreSQL")
