"""SIGKILL of the production server itself, ``caseflow serve`` (waitress, with its push worker and
deadline scheduler), during sync batches: ``tests/sync/test_kill.py`` kills a werkzeug child of a
fork server hundreds of times for speed; this kills the real process a few times, restarts it on
the same data dir and port, and checks the same things: convergence, exactly once, nothing typed
lost, and the operator's own checks (``caseflow store check``, ``caseflow audit verify``) pass."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

from tests.support import ROOT, LiveServer
from tests.sync.harness import Fleet

KILLS = 10


def caseflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def committed(srv: LiveServer) -> int:
    """How many mutations the server has logged as processed (all incarnations: one log per port)."""
    return srv.log().count('"msg": "mutation"')


def wait_for_commits(srv: LiveServer, since: int, threads) -> None:
    """Until this incarnation has processed a mutation (or the round is over): the kill that follows
    lands among pushes, not in the gap in which the devices are still reconnecting."""
    deadline = time.monotonic() + 5
    while committed(srv) <= since and any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        time.sleep(0.01)


def kill(srv: LiveServer) -> None:
    srv.kill()
    assert srv.proc.returncode == -signal.SIGKILL, srv.proc.returncode


@pytest.mark.slow
def test_sigkill_of_caseflow_serve_during_sync_applies_everything_exactly_once(tmp_path):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data = tmp_path / "data"
    srv = LiveServer(data).start()
    kills = rounds = busy = 0
    started = time.monotonic()
    try:
        fleet = Fleet(tmp_path, srv.url, rng)  # a restart takes about a second: within the retry budget
        while kills < KILLS:
            rounds += 1
            fleet.queue_offline_work()
            mark = committed(srv)
            threads, errors = fleet.start_syncing()
            while kills < KILLS:
                wait_for_commits(srv, mark, threads)
                time.sleep(rng.uniform(0.0, 0.05))
                if not any(t.is_alive() for t in threads):
                    break  # this round synced before the next kill: only kills during a sync count
                kill(srv)
                kills += 1
                busy += committed(srv) > mark
                srv.start()  # same data dir, same port: the devices' base URL still holds
                mark = committed(srv)
            for t in threads:
                t.join()
            assert not errors, errors
        fleet.converge()
    finally:
        srv.kill()  # the last stop is a SIGKILL too: the checks below see what a crash leaves
    for args in (("store", "check"), ("audit", "verify")):
        out = caseflow(*args, "--data", str(data))
        assert out.returncode == 0, (args, out.stdout, out.stderr)
    stats = fleet.check_store(data)
    retries = fleet.retries
    # a first answer of "duplicate": the push was committed but its answer died with the server
    cut = sum(r["status"] == "duplicate" for r in fleet.acked.values())
    print(f"\nkill serve test (seed {seed}): {kills} SIGKILLs of caseflow serve during push/pull ({busy} after the "
          f"killed process had processed mutations), {cut} answers lost after commit, {rounds} rounds, "
          f"{retries} retried requests, {time.monotonic() - started:.1f}s; {stats}")
    assert kills >= KILLS and retries > 0 and stats["applied"] > 0 and stats["values_kept"] > 0
