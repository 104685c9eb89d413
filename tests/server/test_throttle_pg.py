"""The login throttle on the PostgreSQL store: counters shared by every process (here: two stores
with their own pools, as two gunicorn workers or two hosts have), same policy as the SQLite one."""

from __future__ import annotations

from server.auth.throttle import LoginThrottle, ThrottlePolicy
from server.auth.throttle_pg import PostgresThrottleStore
from store import open_store

POLICY = ThrottlePolicy(free_failures=2, base_delay=30, max_delay=900, address_max_failures=5, window=900)


def test_failures_counted_in_one_process_throttle_the_other(pg_url):
    now = [1_000_000.0]
    with open_store(pg_url) as a, open_store(pg_url) as b:
        one = LoginThrottle(PostgresThrottleStore(a), b"k", POLICY, clock=lambda: now[0])
        two = LoginThrottle(PostgresThrottleStore(b), b"k", POLICY, clock=lambda: now[0])
        for _ in range(3):
            one.failed("alice", "10.0.0.1")
        assert two.retry_after("alice", "10.0.0.1") == 60  # past the two free ones: 30 s doubling, seen by the other
        assert two.retry_after("alice", "10.0.0.2") == 0  # the rightful user elsewhere is not slowed
        two.failed("alice", "10.0.0.1")
        assert one.retry_after("alice", "10.0.0.1") == 120  # doubling, counted across processes
        for name in ("b", "c"):
            two.failed(name, "10.0.0.1")  # five failures from the address: refused for the window
        assert one.retry_after("zed", "10.0.0.1") == 900
        one.succeeded("alice", "10.0.0.1")
        assert two.store.get(two._pair("alice", "10.0.0.1")) is None
        now[0] += 901
        assert one.retry_after("zed", "10.0.0.1") == 0
