"""The worker and scheduler threads that ``caseflow serve`` starts, and the CLI commands."""

from __future__ import annotations

import threading
import time

from click.testing import CliRunner

from server.push.cli import push_cli
from server.push.deadlines import start_scheduler
from server.push.worker import start_push_worker
from tests.push.casefixtures import london, make_case
from tests.push.helpers import add_device, add_user, write_alert


def test_worker_thread_delivers_new_alerts_and_stops(services, push_service):
    services.extra["push_config"].interval = 0.05
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    before = _workers()
    stop = start_push_worker(services)
    try:
        assert len(_workers()) == len(before) + 1
        alert_id = write_alert(services, [u["user_id"]])
        (receipt,) = push_service.wait_for(1, timeout=10)
        assert receipt.path == s["path"] and receipt.payload["alert_id"] == alert_id
        second = write_alert(services, [u["user_id"]])
        assert [r.payload["alert_id"] for r in push_service.wait_for(2, timeout=10)] == [alert_id, second]
    finally:
        stop()
    # stopped, not abandoned: stop() returns once the thread has ended (its join has a generous bound)
    assert _workers() == before, "stop() returned while the push worker thread still ran"
    stop()  # idempotent


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "push-worker" and t.is_alive()]


def test_worker_thread_retries_when_due(services, push_service):
    services.extra["push_config"].interval = 0.05
    services.extra["push_config"].backoff_base = 0.2
    services.clock.set(None)  # real time: the retry is due 0.2 s later
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    push_service.script(s["path"], 503)
    stop = start_push_worker(services)
    try:
        write_alert(services, [u["user_id"]])
        assert len(push_service.wait_for(1, timeout=10)) == 1
        assert [r.status for r in push_service.receipts] == [503, 201]
    finally:
        stop()


def test_scheduler_thread_scans_at_start(tmp_path):
    from tests.push.casefixtures import make_deadline_services

    svc = make_deadline_services(tmp_path / "data", london("2026-03-05", 10))
    try:
        from server.auth.accounts import Accounts
        from tests.push.helpers import PASSWORD

        Accounts(svc.store, svc.clock).add_partnership("east-sussex", "East Sussex")
        Accounts(svc.store, svc.clock).add_user("esx.business", PASSWORD, "east-sussex", ["business_team"])
        case_id = make_case(svc, "2026-03-02")
        stop = start_scheduler(svc)
        alert_id = f"{case_id}.dl.sin_notification.2026-03-09.r2"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and svc.store.get("alerts", alert_id) is None:
            time.sleep(0.05)
        stop()
        assert svc.store.get("alerts", alert_id) is not None
    finally:
        svc.store.close()


def test_push_keys_command(tmp_path):
    from server.push.vapid import key_path, load_or_create_vapid

    result = CliRunner().invoke(push_cli, ["keys", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert key_path(tmp_path).exists()
    assert result.stdout.strip() == load_or_create_vapid(tmp_path).public_key
