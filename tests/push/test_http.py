"""End to end over HTTP: the real app on a loopback port (in this process, so the test can step its
clock), real logins, subscriptions made through the API, a real case and transition, the real
worker thread, and the verifying, decrypting push service."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from forms.registry import FormRegistry
from server.app import create_app
from server.config import Settings
from server.demo import load_demo
from server.logs import JsonFormatter
from server.push.deadlines import scan_deadlines
from server.push.worker import deliver_pending, start_push_worker
from sync.clock import LONDON, Clock
from tests.push.casefixtures import SENTINEL_DOBS, SENTINEL_NAMES
from tests.push.pushservice import FakePushService
from tests.support import DEMO_PASSWORD, Client, assert_problem

TODAY = dt.date(2026, 3, 2)  # a Monday
SUBSCRIBERS = ("esx.business", "esx.crg", "esx.hos", "esx.la-lead", "esx.health-lead", "esx.police-lead",
               "esx.school-dsl", "esx.health-dsl", "esx.social-worker", "wsx.business")


class App:
    def __init__(self, tmp_path):
        settings = Settings(data_dir=tmp_path / "data", push_allow_http_loopback=True,
                            public_url="https://caseflow.example", demo=True, demo_password=DEMO_PASSWORD)
        self.clock = Clock(dt.datetime.combine(TODAY, dt.time(10), tzinfo=LONDON))
        self.app = create_app(settings, clock=self.clock)
        self.services = self.app.extensions["caseflow"]
        load_demo(self.services.accounts, DEMO_PASSWORD)
        if not any(r.rule == "/api/v1/push/subscriptions" for r in self.app.url_map.iter_rules()):
            from server.resources import push  # not yet registered in server/resources/__init__.py

            self.app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(push.blp)
        from server.push.config import push_config

        config = push_config(self.services)
        config.subject, config.timeout, config.interval, config.from_hour = "mailto:ops@example.org", 3, 0.05, 0
        self.http = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.stop_worker = start_push_worker(self.app)

    def close(self):
        self.stop_worker()
        self.http.shutdown()
        self.services.store.close()


@pytest.fixture
def app(tmp_path):
    a = App(tmp_path)
    yield a
    a.close()


@pytest.fixture
def cases(app):
    """The app, which opens cases (a missing case-type registry fails at create_app)."""
    assert app.services.case_types is not None
    return app


@pytest.fixture
def fake(app):
    key = requests.get(app.url + "/api/v1/push/vapid-public-key", timeout=5).json()["public_key"]
    f = FakePushService(key).start()
    yield f
    f.stop()


def _subscribe(app, fake, username):
    client = Client(app.url, username)
    sub = fake.subscription()
    r = client.post("/api/v1/push/subscriptions", json=sub)
    assert r.status_code == 201, r.text
    client.sub_id = r.json()["subscription_id"]
    client.path = sub["endpoint"][len(fake.origin):]
    return client


def _referral():
    data = copy.deepcopy(FormRegistry.load_default().latest("crg_referral").examples["valid"][0])
    data["child"]["name"], data["child"]["date_of_birth"] = SENTINEL_NAMES[0], SENTINEL_DOBS[0]
    data["referrer"]["name"] = SENTINEL_NAMES[1]
    for row in data.get("other_children", []):
        row["name"], row["date_of_birth"] = SENTINEL_NAMES[1], SENTINEL_DOBS[1]
    data["incident_summary"] = f"{SENTINEL_NAMES[0]} (born {SENTINEL_DOBS[0]}) was taken to hospital."
    data["referral_date"] = data["incident_date"] = data["la_aware_date"] = TODAY.isoformat()
    return {"form_id": "crg_referral", "form_version": FormRegistry.load_default().latest("crg_referral").version,
            "data": data}


def _case_alerts(app, case_id):
    return [d.data for d in app.services.store.scan("alerts", lambda a: a["case_id"] == case_id)]


def _settle(app, fake, expected_count, timeout=15):
    """Wait until the worker has delivered ``expected_count`` pushes (and nothing else is due)."""
    fake.wait_for(expected_count, timeout=timeout)
    time.sleep(0.3)


def _expected(alerts, clients):
    by_user = {c.user["user_id"]: c for c in clients}
    return sorted((by_user[u].path, a["alert_id"]) for a in alerts for u in a["recipients"] if u in by_user)


def test_vapid_public_key(app):
    r = requests.get(app.url + "/api/v1/push/vapid-public-key", timeout=5)
    assert r.status_code == 200 and "max-age" in r.headers["Cache-Control"]
    from server.push.vapid import b64u_decode

    assert len(b64u_decode(r.json()["public_key"])) == 65


def test_subscription_errors_and_ownership(app, fake):
    alice = Client(app.url, "esx.business")
    bob = Client(app.url, "esx.crg")
    assert requests.post(app.url + "/api/v1/push/subscriptions", json=fake.subscription(), timeout=5).status_code == 401
    secret_path = f"https://push.example.org/{SENTINEL_NAMES[0].replace(' ', '-')}"
    body = assert_problem(alice.post("/api/v1/push/subscriptions", json={
        "endpoint": secret_path.replace("https", "http"), "keys": {"p256dh": "AAAA", "auth": "AAAA"}}),
        422, "validation-error")
    assert {e["path"] for e in body["errors"]} == {"/endpoint", "/keys/p256dh", "/keys/auth"}
    assert SENTINEL_NAMES[0].split()[0] not in json.dumps(body)
    body = assert_problem(alice.post("/api/v1/push/subscriptions", json={"endpoint": 5}), 422)
    assert {e["path"] for e in body["errors"]} >= {"/endpoint", "/keys"}
    assert_problem(alice.post("/api/v1/push/subscriptions", json={**fake.subscription(), "x": 1}), 422)

    first = alice.post("/api/v1/push/subscriptions", json=fake.subscription()).json()["subscription_id"]
    again = alice.post("/api/v1/push/subscriptions", json=(sub := fake.subscription()))
    assert again.status_code == 201 and again.json()["subscription_id"] != first  # replaced
    assert alice.post("/api/v1/push/subscriptions", json=sub).status_code == 200  # same one: idempotent
    second = again.json()["subscription_id"]
    assert app.services.store.get("push_subscriptions", first) is None
    assert_problem(bob.http.delete(f"{app.url}/api/v1/push/subscriptions/{second}", headers=bob.headers()), 404)
    assert_problem(alice.http.delete(f"{app.url}/api/v1/push/subscriptions/{first}", headers=alice.headers()), 404)
    r = alice.http.delete(f"{app.url}/api/v1/push/subscriptions/{second}", headers=alice.headers())
    assert r.status_code == 204
    assert app.services.store.get("push_subscriptions", second) is None


def test_a_case_and_a_transition_reach_exactly_the_expected_devices(cases, fake, caplog):
    app = cases
    caplog.set_level(logging.INFO)
    clients = [_subscribe(app, fake, name) for name in SUBSCRIBERS]
    by_name = {c.username: c for c in clients}
    r = by_name["esx.school-dsl"].post("/api/v1/cases", json={"case_type": "serious_incident",
                                                               "referral": _referral()})
    assert r.status_code in (200, 201), r.text
    case_id = r.json()["case_id"]
    business = by_name["esx.business"]
    view = business.get(f"/api/v1/cases/{case_id}").json()
    assert view["allowed_events"], view
    event = view["allowed_events"][0]
    r = business.post(f"/api/v1/cases/{case_id}/transitions", json={"event": event, "expected_state": view["state"]})
    assert r.status_code in (200, 201), r.text
    alerts = _case_alerts(app, case_id)
    assert alerts, "the write path wrote no alert for a new case and a transition"
    expected = _expected(alerts, clients)
    _settle(app, fake, len(expected))
    got = sorted((r.path, r.payload["alert_id"]) for r in fake.accepted())
    assert got == expected  # the expected devices, once each, nobody else
    assert fake.errors == []
    assert all(a["delivery"] == "queued" for a in _case_alerts(app, case_id))
    # nothing personal in any payload, server log line or error body
    formatter = JsonFormatter()
    lines = [formatter.format(rec) for rec in caplog.records]
    for needle in (*SENTINEL_NAMES, *SENTINEL_DOBS):
        assert not any(needle in json.dumps(p) for p in fake.payloads()), needle
        assert not any(needle in line for line in lines), needle
    assert caplog.records


def test_a_clock_tick_reaches_the_business_team_and_escalates(cases, fake):
    app = cases
    clients = [_subscribe(app, fake, name) for name in SUBSCRIBERS]
    by_name = {c.username: c for c in clients}
    r = by_name["esx.school-dsl"].post("/api/v1/cases", json={"case_type": "serious_incident",
                                                               "referral": _referral()})
    case_id = r.json()["case_id"]
    deadlines = by_name["esx.business"].get(f"/api/v1/cases/{case_id}").json()["deadlines"]
    sin = next(d for d in deadlines if d["due"] == "2026-03-09")  # aware Monday 2 March + 5 working days
    _settle(app, fake, len(_expected(_case_alerts(app, case_id), clients)))
    before = len(fake.accepted())
    app.clock.set(dt.datetime(2026, 3, 5, 10, tzinfo=LONDON))  # two working days before
    scan_deadlines(app.services)
    reminders = [a for a in _case_alerts(app, case_id) if a["kind"] == "deadline_reminder"]
    assert [a["alert_id"] for a in reminders] == [f"{case_id}.dl.{sin['name']}.2026-03-09.r2"]
    expected = _expected(reminders, clients)
    assert by_name["esx.business"].path in {p for p, _ in expected}
    deliver_pending(app.services)
    _settle(app, fake, before + len(expected))
    got = sorted((r.path, r.payload["alert_id"]) for r in fake.accepted()[before:])
    assert got == expected
    app.clock.set(dt.datetime(2026, 3, 10, 10, tzinfo=LONDON))  # overdue
    scan_deadlines(app.services)
    scan_deadlines(app.services)
    overdue = [a for a in _case_alerts(app, case_id) if a["kind"] == "deadline_overdue"]
    assert len(overdue) == 1
    targets = {c.username for c in clients if c.user["user_id"] in overdue[0]["recipients"]}
    assert {"esx.business", "esx.la-lead", "esx.health-lead", "esx.police-lead"} <= targets
    assert "wsx.business" not in targets and "esx.social-worker" not in targets


def test_deadlines_tick_command_is_idempotent(tmp_path):
    from click.testing import CliRunner

    from server.push.cli import deadlines_cli

    a = App(tmp_path)
    try:
        client = Client(a.url, "esx.school-dsl")
        r = client.post("/api/v1/cases", json={"case_type": "serious_incident", "referral": _referral()})
        case_id = r.json()["case_id"]
        deadlines = Client(a.url, "esx.business").get(f"/api/v1/cases/{case_id}").json()["deadlines"]
        sin = next(d for d in deadlines if d["due"] == "2026-03-09")  # aware Monday 2 March + 5 working days
    finally:
        a.close()
    runner = CliRunner()
    args = ["tick", "--data", str(tmp_path / "data"), "--today", "2026-03-05", "--no-deliver"]
    first = runner.invoke(deadlines_cli, args, env={"CASEFLOW_DEMO": ""})
    assert first.exit_code == 0, first.output
    written = json.loads(first.stdout.strip().splitlines()[-1])["reminders"]
    assert written >= 1
    again = runner.invoke(deadlines_cli, args)
    stats = json.loads(again.stdout.strip().splitlines()[-1])
    assert stats["reminders"] == 0 and stats["already"] == written
    bad = runner.invoke(deadlines_cli, ["tick", "--data", str(tmp_path / "data"), "--today", "5 March"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
    from store import open_store

    with open_store(tmp_path / "data" / "store") as store:
        assert store.get("alerts", f"{case_id}.dl.{sin['name']}.2026-03-09.r2") is not None
