"""SIGKILL of the production server itself, ``caseflow serve`` (waitress, with its push worker and
deadline scheduler), during sync batches: ``tests/sync/test_kill.py`` kills a werkzeug child of a
fork server hundreds of times for speed; this kills the real process a few times, restarts it on
the same data dir and port, and checks the same things: convergence, exactly once, nothing typed
lost, and the operator's own checks (``caseflow store check``, ``caseflow audit verify``) pass.

Each kill lands on work in progress by construction: the server logs that it is applying a push
inside the push's unit of work, and the test kills only after this incarnation has logged one (half
the kills as soon as a push logs its start, the others up to 5 or 50 ms later), never on a timer.
The killed process's own log then tells whether a push was still in flight (``push.applying``
without its ``push`` summary line): a floor of those kills is asserted. The test kills KILLS times,
and goes on (to three times as many at most) until BUSY of its kills caught a push in flight.

After each kill, before the restart, a copy of what the kill left is opened (recovered like the
server would) and must pass ``verify()`` and hold every answer the devices got so far: a failure
names the kill and the seed. The original stays as the kill left it for the real restart."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from store import open_store
from tests.faults import at_least, floor, record_kills
from tests.support import ROOT, LiveServer
from tests.sync.harness import Fleet, check_answered

KILLS = floor("test_sigkill_of_caseflow_serve_during_sync_applies_everything_exactly_once")
BUSY = 3  # of the KILLS: the killed process had logged push.applying and not yet that push's commit
WAIT = 60.0  # seconds a restarted server may take to log a mutation while devices push (loaded CI box)


def caseflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def committed(srv: LiveServer) -> int:
    """How many pushes the server has begun to apply (all incarnations: one log per port)."""
    return srv.log().count('"msg": "push.applying"')


def in_flight(srv: LiveServer, pid: int) -> bool:
    """Process ``pid`` (now dead) was applying a push when it died: it logged a device's
    ``push.applying`` without the ``push`` line that follows that push's commit."""
    begun: Counter[str] = Counter()
    done: Counter[str] = Counter()
    for line in srv.log().splitlines():
        try:
            rec = json.loads(line) if line.startswith("{") else {}  # not waitress's or gunicorn's own lines
        except ValueError:
            continue
        if rec.get("pid") == pid and rec.get("msg") in ("push.applying", "push"):
            (begun if rec["msg"] == "push.applying" else done)[rec.get("device_id")] += 1
    return any(n > done[d] for d, n in begun.items())


def check_answers(store, answered: dict[str, str], what: str, verify: bool = True) -> None:
    """The store passes ``verify()`` and holds every answer the devices got; fails naming ``what``."""
    problems = store.verify() if verify else []
    assert not problems, f"{what}: store.verify() failed: {problems}"
    lost = check_answered(store, answered)
    assert lost is None, f"{what}: {lost}"


def check_what_the_kill_left(data: Path, scratch: Path, answered: dict[str, str], what: str) -> None:
    """Open a copy of the killed server's store (opening recovers: the original stays as the kill left
    it, for the restart to recover) and check it."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(data / "store", scratch)
    store = open_store(scratch)
    try:
        check_answers(store, answered, what)
    finally:
        store.close()


def wait_for_commits(srv: LiveServer, since: int, threads) -> bool:
    """Until this incarnation is processing a push batch (it logged one): the kill that follows
    lands among pushes, not in the gap in which the devices are still reconnecting. False when the
    round synced first."""
    deadline = time.monotonic() + WAIT
    while committed(srv) <= since:
        if not any(t.is_alive() for t in threads):
            return False
        assert time.monotonic() < deadline, f"caseflow serve began no push in {WAIT:.0f} s while devices pushed"
        time.sleep(0.001)
    return True


def kill(srv: LiveServer) -> None:
    srv.kill()
    assert srv.proc.returncode == -signal.SIGKILL, srv.proc.returncode


@pytest.mark.slow
@pytest.mark.kills
@pytest.mark.timeout(600)  # a hang ceiling for a loaded machine; each wait has its own deadline
def test_sigkill_of_caseflow_serve_during_sync_applies_everything_exactly_once(tmp_path, request):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data = tmp_path / "data"
    srv = LiveServer(data).start()
    kills = rounds = busy = 0
    started = time.monotonic()
    checking = 0.0  # seconds spent on the per-kill checks
    fleet = None
    try:
        fleet = Fleet(tmp_path, srv.url, rng)  # a restart takes about a second: within the retry budget
        def more() -> bool:  # KILLS at least; more (up to 3x) until BUSY of them caught a push in flight
            return kills < KILLS or (busy < BUSY and kills < 3 * KILLS)

        while more():
            rounds += 1
            fleet.queue_offline_work()
            mark = committed(srv)
            threads, errors = fleet.start_syncing()
            while more():
                if not wait_for_commits(srv, mark, threads):
                    break  # this round synced before the next kill: only kills during a sync count
                # a push's unit of work lasts a few ms (pushes take turns on one thread, ADR 0039): half
                # the kills come as soon as a push logs that it began, the others up to 5 or 50 ms later
                when = rng.choice(("fresh", "fresh", "5 ms", "50 ms"))
                if when == "fresh" and not wait_for_commits(srv, committed(srv), threads):
                    break
                time.sleep({"fresh": 0.0, "5 ms": rng.uniform(0.0, 0.005), "50 ms": rng.uniform(0.0, 0.05)}[when])
                victim = srv.proc.pid
                kill(srv)
                kills += 1
                what = f"kill #{kills} (seed {seed})"
                busy += in_flight(srv, victim)
                t0 = time.monotonic()
                check_what_the_kill_left(data, tmp_path / "after-kill", dict(fleet.answered), what)
                checking += time.monotonic() - t0
                try:
                    srv.start()  # same data dir, same port: the devices' base URL still holds
                except RuntimeError as exc:
                    raise AssertionError(f"{what}: caseflow serve did not restart: {exc}") from None
                mark = committed(srv)
            for t in threads:
                t.join(WAIT * 2)
                assert not t.is_alive(), f"a device was still syncing {WAIT * 2:.0f} s after the round's last kill"
            assert not errors, errors
        fleet.converge()
    finally:
        if fleet:
            fleet.stop.set()
        srv.kill()  # the last stop is a SIGKILL too: the checks below see what a crash leaves
    for args in (("store", "check"), ("audit", "verify")):
        out = caseflow(*args, "--data", str(data))
        assert out.returncode == 0, (args, out.stdout, out.stderr)
    stats = fleet.check_store(data)
    retries = fleet.retries
    # a first answer of "duplicate": the push was committed but its answer died with the server
    cut = sum(r["status"] == "duplicate" for r in fleet.acked.values())
    print(f"\nkill serve test (seed {seed}): {kills} SIGKILLs of caseflow serve during push/pull ({busy} with a push "
          f"in flight in the killed process), {cut} answers lost after commit, {rounds} rounds, "
          f"{retries} retried requests, {time.monotonic() - started:.1f}s ({checking:.1f}s of per-kill checks); "
          f"{stats}")
    record_kills(request, kills, what="caseflow serve kill test")
    at_least("kills with a push in flight (push.applying logged, its push line not)", busy, BUSY,
             "a kill must catch a push inside its unit of work, not only between pushes")
    at_least("answers lost after commit (first answer `duplicate`)", cut, 3,
             "a kill among pushes must catch some committed batches before their answers")
    at_least("retried requests", retries, kills, "every kill interrupts at least one device's request")
    at_least("mutations applied", stats.get("applied", 0), 20, "the devices' work got through")
    at_least("typed values kept", stats.get("values_kept", 0), 10, "edits reached the record")
