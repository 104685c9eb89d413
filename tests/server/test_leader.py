"""One background-jobs leader per PostgreSQL installation, with takeover when the holder goes."""

from __future__ import annotations

import time

import psycopg

from server.leader import LEADER_LOCK, Leadership
from store import open_store


def _wait(cond, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_one_leader_at_a_time_and_takeover_when_it_goes(pg_url):
    with open_store(pg_url):
        pass
    running: list[str] = []
    events: list[str] = []
    most = [0]

    def jobs(name: str):
        def start():
            running.append(name)
            events.append(f"start {name}")
            most[0] = max(most[0], len(running))

            def stop():
                running.remove(name)
                events.append(f"stop {name}")
            return [stop]
        return start

    a = Leadership(pg_url, jobs("a"), heartbeat=0.2, retry=0.2).start()
    assert _wait(a.leading.is_set)
    b = Leadership(pg_url, jobs("b"), heartbeat=0.2, retry=0.2).start()
    time.sleep(1.0)
    assert running == ["a"] and not b.leading.is_set()  # b keeps trying, never leads alongside a
    assert most[0] == 1  # while a's connection holds the lock, never two leaders
    # the leader's connection dies (as when its process is killed): the lock goes with it
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                     "AND objid = %s AND granted", (LEADER_LOCK & 0xFFFFFFFF,))
    # a steps down at its next heartbeat (b may already lead: the overlap is at most one heartbeat,
    # and the jobs tolerate it: alerts are inserted by deterministic ids, deliveries claimed by CAS)
    assert _wait(lambda: "stop a" in events and len(running) == 1), events
    leader, other = (a, b) if running == ["a"] else (b, a)
    leader.stop()  # the leader goes for good: the other takes over
    assert _wait(lambda: len(running) == 1 and other.leading.is_set()), events
    other.stop()
    assert running == [], events
