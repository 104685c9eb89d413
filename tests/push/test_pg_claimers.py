"""Two push-delivery workers on one PostgreSQL store never send one alert twice (ADR 0025).

Leadership keeps one jobs leader per installation, but a leader that lost its connection may still be
running its jobs for up to one heartbeat while the next one starts (server/leader.py). Here two full
delivery workers (``start_push_worker``, each with its own ``PostgresStore`` and pool, as two server
processes have) run at once on the same outbox, against the real loopback push service: they race to
claim deliveries already in the outbox and to expand alerts written while they run, and some answers
are slow so that their passes overlap. Every delivery must reach its push endpoint exactly
once and be recorded as sent once."""

from __future__ import annotations

import collections

from server.config import Settings
from server.push.cli import PushServices
from server.push.worker import DELIVERIES, OUTBOX, expand_alerts, start_push_worker
from store import open_store
from sync.clock import Clock
from tests.push import helpers
from tests.push.helpers import T0, add_device, add_user, vapid_public, write_alert
from tests.push.pushservice import FakePushService

USERS, DEVICES, ALERTS = 4, 2, 6


def _services(data_dir, url: str) -> PushServices:
    settings = Settings(data_dir=data_dir, store_url=url, push_allow_http_loopback=True,
                        public_url="https://caseflow.example")
    svc = PushServices(settings=settings, store=open_store(url, pool_size=2), clock=Clock(T0))
    svc.extra["push_config"] = helpers.test_config(interval=0.05, concurrency=4)
    return svc


def test_two_overlapping_delivery_workers_send_each_alert_once(pg_url, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    one, two = _services(data, pg_url), _services(data, pg_url)  # one VAPID key pair in the shared data dir
    push = FakePushService(vapid_public(data)).start()
    stops = []
    try:
        users = [add_user(one, f"user.{i}") for i in range(USERS)]
        subs = [add_device(one, u, push) for u in users for _ in range(DEVICES)]
        for sub in subs[::3]:
            push.script(sub["path"], ("slow", 0.3), ("slow", 0.3))  # widen the window in which both pass
        def alert(i: int) -> str:
            return write_alert(one, [u["user_id"] for u in users], case_id=f"c0ffee00-0000-4000-8000-{i:012d}")

        # half the alerts already expanded into the outbox (both workers race to claim them at start),
        # half written while both run (they race to expand them too)
        alert_ids = [alert(i) for i in range(ALERTS // 2)]
        assert expand_alerts(one, T0) == len(subs) * len(alert_ids)
        expected = len(subs) * ALERTS
        stops = [start_push_worker(one), start_push_worker(two)]
        alert_ids += [alert(i) for i in range(ALERTS // 2, ALERTS)]
        got = push.wait_for(expected, timeout=120)
        assert len(got) >= expected, f"{len(got)} of {expected} pushes arrived within 120 s"
        push.settle(timeout=20, quiet=1.0)
        for stop in stops:
            stop()
        stops = []
        sent = collections.Counter((r.path, r.payload["alert_id"]) for r in push.receipts if r.status == 201)
        twice = {k: n for k, n in sent.items() if n > 1}
        assert twice == {}, f"sent more than once: {twice}"
        assert set(sent) == {(s["path"], a) for s in subs for a in alert_ids}
        assert push.errors == []
        states = collections.Counter(d.data["state"] for d in one.store.scan(DELIVERIES))
        assert states == {"sent": expected}, states
        assert list(one.store.scan(OUTBOX)) == []
    finally:
        for stop in stops:
            stop()
        push.stop()
        one.store.close()
        two.store.close()
