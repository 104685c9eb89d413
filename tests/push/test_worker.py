"""The delivery worker against a real (loopback) push service: from an alert in the store to the
decrypted payload, once per subscription of each recipient; retries, backoff and dead subscriptions."""

from __future__ import annotations

import datetime as dt
import time

from server.push.payload import MAX_PLAINTEXT, topic_for
from server.push.subscriptions import SUBSCRIPTIONS
from server.push.worker import DELIVERIES, OUTBOX, deliver_pending
from tests.push.helpers import T0, add_device, add_user, write_alert

PAYLOAD_KEYS = {"v", "alert_id", "kind", "reference", "case_id", "state", "event", "deadline", "due", "status",
                "lead_days", "days_overdue", "url", "tag"}


def _deliveries(services, state=None):
    return [d.data for d in services.store.scan(DELIVERIES) if state is None or d.data["state"] == state]


def test_alert_reaches_each_subscription_of_each_recipient_once(services, push_service):
    a, b, c = (add_user(services, n) for n in ("user.a", "user.b", "user.c"))
    a1, a2 = add_device(services, a, push_service), add_device(services, a, push_service)
    b1 = add_device(services, b, push_service)
    c1 = add_device(services, c, push_service)  # not a recipient
    alert_id = write_alert(services, [a["user_id"], b["user_id"]], event="refer",
                           case_id="c0ffee00-0000-4000-8000-00000000000a")

    stats = deliver_pending(services)
    assert stats["expanded"] == 3 and stats["sent"] == 3, stats
    assert push_service.errors == []
    for sub in (a1, a2, b1):
        (payload,) = push_service.payloads(sub["path"])
        assert payload == {
            "v": 1, "alert_id": alert_id, "kind": "state_entered", "reference": "ESX-2026-0001",
            "case_id": "c0ffee00-0000-4000-8000-00000000000a", "state": "sin_consideration", "event": "refer",
            "url": "https://caseflow.example/cases/c0ffee00-0000-4000-8000-00000000000a",
            "tag": payload["tag"]}
    assert push_service.payloads(c1["path"]) == []
    receipt = push_service.accepted()[0]
    assert receipt.headers["content-encoding"] == "aes128gcm"
    assert receipt.headers["urgency"] == "normal"
    assert receipt.headers["topic"] == topic_for({"alert_id": alert_id}) and len(receipt.headers["topic"]) <= 32
    assert 86_000 < int(receipt.headers["ttl"]) <= 86_400
    # VAPID: ES256 verified by the service; our exp is at most 12 hours ahead, aud is the service's origin
    for r in push_service.accepted():
        assert r.claims["aud"] == push_service.origin
        assert r.claims["exp"] <= time.time() + 12 * 3600 + 5
        assert r.claims["sub"] == "mailto:ops@caseflow.example"
    # a second pass sends nothing again; the alert is marked queued; every delivery is recorded as sent
    assert deliver_pending(services).get("sent", 0) == 0
    assert len(push_service.receipts) == 3
    assert services.store.get("alerts", alert_id).data["delivery"] == "queued"
    assert sorted(d["state"] for d in _deliveries(services)) == ["sent"] * 3
    assert list(services.store.scan(OUTBOX)) == []


def test_vapid_claims_are_fresh_for_each_push_service_origin(services, push_service, tmp_path):
    """pywebpush writes aud/exp into the claims dict it is given; a shared dict would carry the first
    service's aud to the second. Two services on two origins both verify their own aud."""
    from tests.push.pushservice import FakePushService

    other = FakePushService(push_service.vapid_public_key).start()
    try:
        u = add_user(services, "user.a")
        s1, s2 = add_device(services, u, push_service), add_device(services, u, other)
        write_alert(services, [u["user_id"]])
        assert deliver_pending(services)["sent"] == 2
        assert push_service.errors == [] and other.errors == []
        assert push_service.accepted(s1["path"])[0].claims["aud"] == push_service.origin
        assert other.accepted(s2["path"])[0].claims["aud"] == other.origin
    finally:
        other.stop()


def test_404_and_410_delete_the_subscription(services, push_service):
    u = add_user(services, "user.a")
    s404, s410, ok = (add_device(services, u, push_service) for _ in range(3))
    push_service.script(s404["path"], 404)
    push_service.script(s410["path"], 410)
    write_alert(services, [u["user_id"]])
    stats = deliver_pending(services)
    assert stats["gone"] == 2 and stats["sent"] == 1
    remaining = {d.id for d in services.store.scan(SUBSCRIPTIONS)}
    assert remaining == {ok["sub_id"]}
    assert services.store.get("push_devices", s404["device_id"]) is None
    # the next alert goes to the live subscription only
    write_alert(services, [u["user_id"]])
    assert deliver_pending(services)["sent"] == 1
    assert len(push_service.payloads(ok["path"])) == 2
    assert len(push_service.receipts) == 4


def test_413_is_a_permanent_failure(services, push_service, caplog):
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    push_service.script(s["path"], 413)
    write_alert(services, [u["user_id"]])
    with caplog.at_level("INFO", logger="caseflow.push"):
        stats = deliver_pending(services)
    assert stats["failed"] == 1
    (d,) = _deliveries(services)
    assert d["state"] == "failed" and d["last_status"] == 413 and d["attempts"] == 1
    assert deliver_pending(services, T0 + dt.timedelta(days=1)).get("sent", 0) == 0
    assert len(push_service.receipts) == 1
    assert services.store.get(SUBSCRIPTIONS, s["sub_id"]) is not None  # the subscription itself is fine
    assert any("push failed" in r.getMessage() and d["alert_id"] in r.getMessage() for r in caplog.records)


def test_429_retry_after_is_honoured(services, push_service):
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    push_service.script(s["path"], ("429", 120))
    write_alert(services, [u["user_id"]])
    assert deliver_pending(services, T0)["retried"] == 1
    (d,) = _deliveries(services)
    assert d["state"] == "pending" and d["last_status"] == 429
    assert d["next_at"] >= T0.timestamp() + 120
    assert deliver_pending(services, T0 + dt.timedelta(seconds=60)).get("sent", 0) == 0  # not before Retry-After
    assert len(push_service.receipts) == 1
    assert deliver_pending(services, T0 + dt.timedelta(seconds=135))["sent"] == 1
    (payload,) = push_service.payloads(s["path"])
    assert payload["kind"] == "state_entered"


def test_5xx_retried_with_exponential_backoff(services, push_service):
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    push_service.script(s["path"], 500, 503, 500)
    write_alert(services, [u["user_id"]])
    now, delays = T0, []
    for _ in range(3):
        assert deliver_pending(services, now)["retried"] == 1
        (d,) = _deliveries(services)
        delays.append(d["next_at"] - now.timestamp())
        now = dt.datetime.fromtimestamp(d["next_at"] + 0.001, dt.UTC)
    # base 5 s doubling, plus at most 10 % jitter
    assert 5 <= delays[0] <= 5.5 and 10 <= delays[1] <= 11 and 20 <= delays[2] <= 22
    assert deliver_pending(services, now)["sent"] == 1
    (d,) = _deliveries(services)
    assert d["state"] == "sent" and d["attempts"] == 4


def test_slow_push_service_times_out_and_is_retried(services, push_service):
    services.extra["push_config"].timeout = 0.5
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    push_service.script(s["path"], "hold")  # never answers until released
    write_alert(services, [u["user_id"]])
    assert deliver_pending(services, T0)["retried"] == 1
    # the pass ended while the push service still held the request: it was abandoned, not waited for
    assert push_service.held.is_set() and not push_service.release.is_set()
    push_service.release.set()
    (d,) = _deliveries(services)
    assert d["last_error"] == "ReadTimeout"
    assert deliver_pending(services, T0 + dt.timedelta(seconds=10))["sent"] == 1


def test_connection_refused_is_retried(services, push_service):
    u = add_user(services, "user.a")
    add_device(services, u, push_service)
    push_service.stop()
    write_alert(services, [u["user_id"]])
    assert deliver_pending(services, T0)["retried"] == 1
    (d,) = _deliveries(services)
    assert d["last_error"] == "ConnectionError" and d["state"] == "pending"


def test_gives_up_after_max_attempts(services, push_service):
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    push_service.script(s["path"], *([500] * 10))
    write_alert(services, [u["user_id"]])
    now = T0
    for _ in range(10):
        deliver_pending(services, now)
        now += dt.timedelta(hours=1)
    (d,) = _deliveries(services)
    assert d["state"] == "failed" and d["attempts"] == 5
    assert len(push_service.receipts) == 5


def test_an_alert_past_its_ttl_is_not_sent(services, push_service):
    u = add_user(services, "user.a")
    add_device(services, u, push_service)
    write_alert(services, [u["user_id"]])
    stats = deliver_pending(services, T0 + dt.timedelta(days=2))
    assert stats["expanded"] == 0
    assert push_service.receipts == []
    (alert,) = [d.data for d in services.store.scan("alerts")]
    assert alert["delivery"] == "expired"


def test_retries_stop_at_the_ttl(services, push_service):
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    push_service.script(s["path"], ("429", 3 * 86_400))
    write_alert(services, [u["user_id"]])
    stats = deliver_pending(services, T0)
    assert stats["expired"] == 1
    (d,) = _deliveries(services)
    assert d["state"] == "expired"


def test_deadline_alert_lives_until_its_due_date_and_overdue_is_urgent(services, push_service):
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    case_id = "c0ffee00-0000-4000-8000-00000000000b"
    # Monday 09:00 UTC; due Wednesday 4 March: alive until the end of that day in London (GMT in March)
    write_alert(services, [u["user_id"]], kind="deadline_reminder", case_id=case_id, deadline="sin_notification",
                due="2026-03-04", status="due_soon", lead_days=2)
    write_alert(services, [u["user_id"]], kind="deadline_overdue", case_id=case_id, deadline="sin_notification",
                due="2026-02-27", status="overdue", days_overdue=1)
    assert deliver_pending(services)["sent"] == 2
    reminder, overdue = sorted(push_service.accepted(s["path"]), key=lambda r: r.payload["kind"], reverse=True)
    assert reminder.payload["kind"] == "deadline_reminder"
    until = dt.datetime(2026, 3, 5, 0, 0, tzinfo=dt.UTC)  # 5 March 00:00 in London is GMT
    assert int(reminder.headers["ttl"]) == int((until - T0).total_seconds())
    assert reminder.headers["urgency"] == "normal" and overdue.headers["urgency"] == "high"
    # one Topic per case and deadline: a newer reminder replaces an undelivered older one
    assert reminder.headers["topic"] == overdue.headers["topic"]
    assert reminder.payload["due"] == "2026-03-04" and reminder.payload["lead_days"] == 2
    assert overdue.payload["days_overdue"] == 1 and overdue.payload["status"] == "overdue"


def test_payload_is_allowlisted_and_small(services, push_service):
    u = add_user(services, "user.a")
    s = add_device(services, u, push_service)
    write_alert(services, [u["user_id"]], event="Jane Sentinel-Doe", child_name="Jane Sentinel-Doe",
                date_of_birth="2015-04-01", reference="ESX-2026-0042")
    deliver_pending(services)
    (payload,) = push_service.payloads(s["path"])
    assert set(payload) <= PAYLOAD_KEYS
    assert "event" not in payload  # a value that is not an identifier is not copied
    assert "Sentinel" not in str(payload) and "2015-04-01" not in str(payload)
    assert all(len(body) < 600 for body in push_service.raw_bodies) and MAX_PLAINTEXT == 3993


def test_disabled_user_revoked_device_and_logout_are_not_pushed(services, push_service):
    from server.auth.accounts import Accounts

    accounts = Accounts(services.store, services.clock)
    u, v, w = add_user(services, "user.a"), add_user(services, "user.b"), add_user(services, "user.c")
    su, sv, sw = (add_device(services, x, push_service) for x in (u, v, w))
    write_alert(services, [u["user_id"], v["user_id"], w["user_id"]])
    assert deliver_pending(services, T0)["sent"] == 3
    write_alert(services, [u["user_id"], v["user_id"], w["user_id"]])
    accounts.set_disabled("user.a")  # the delivery to a disabled user is dropped at send time
    accounts.revoke_device(sv["device_id"], by_user_id=None)  # revocation removes the device's subscription
    (session,) = [d.data for d in services.store.scan("sessions", lambda s: s["device_id"] == sw["device_id"])]
    accounts.end_session(session["session_id"], w["user_id"])  # so does logout
    assert services.store.get(SUBSCRIPTIONS, sv["sub_id"]) is None
    assert services.store.get(SUBSCRIPTIONS, sw["sub_id"]) is None
    stats = deliver_pending(services, T0)
    assert stats.get("sent", 0) == 0 and stats["dropped"] == 1
    assert len(push_service.receipts) == 3 and su


def test_concurrent_passes_send_each_delivery_once(services, push_service):
    import threading

    users = [add_user(services, f"user.{i}") for i in range(5)]
    subs = [add_device(services, u, push_service) for u in users for _ in range(2)]
    for _ in range(5):
        write_alert(services, [u["user_id"] for u in users])
    # four passes with their own locks and senders, as if four workers shared the store
    from server.push.cli import PushServices
    from server.push.worker import close_sender

    workers = [PushServices(services.settings, services.store, services.clock,
                            {"push_config": services.extra["push_config"]}) for _ in range(4)]
    threads = [threading.Thread(target=deliver_pending, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in workers:
        close_sender(w)
    assert len(push_service.receipts) == 5 * len(subs)
    ids = [(r.path, r.payload["alert_id"]) for r in push_service.receipts]
    assert len(set(ids)) == len(ids)
