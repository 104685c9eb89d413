"""Issue #10 item 7: a throttle that slows guessing without locking the rightful user out, that
understands trusted proxies and survives restarts; NIST SP 800-63B passwords; separation of
duties; parallel refreshes; a cap on devices per user."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import subprocess
import sys

import pytest
import requests

from server.auth.accounts import Accounts
from server.auth.passwords import password_problems
from server.auth.throttle import LoginThrottle, SQLiteThrottleStore, ThrottlePolicy
from server.demo import USERS
from store import open_store
from sync.clock import Clock
from tests.support import DEMO_PASSWORD, ROOT, Client, LiveServer, assert_problem

LOGIN = "/api/v1/auth/login"
PROXY = "127.0.0.9"


class _From(requests.adapters.HTTPAdapter):
    """Connect from a chosen loopback source address: each is another client machine."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def _session(source: str) -> requests.Session:
    s = requests.Session()
    s.mount("http://", _From(source))
    return s


def _login(http: requests.Session, url: str, username: str, password: str, device: str = "device-0001", **kw):
    return http.post(url + LOGIN, json={"username": username, "password": password, "device_id": device}, **kw)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("login") / "data", env={
        # delays of 5 min, not 30 s: a restart on a loaded machine must not outlast the delay it checks
        "CASEFLOW_TRUSTED_PROXIES": PROXY, "CASEFLOW_LOGIN_ADDRESS_MAX_FAILURES": "8",
        "CASEFLOW_LOGIN_DELAY_BASE_SECONDS": "300",
        "CASEFLOW_MAX_DEVICES_PER_USER": "3", "CASEFLOW_MAX_PUSH_SUBSCRIPTIONS_PER_USER": "2"}).start()
    yield server
    server.stop()


def test_guessing_from_one_address_slows_that_address_only(srv):
    attacker, user = _session("127.0.0.2"), _session("127.0.0.3")
    for _ in range(5):
        assert _login(attacker, srv.url, "esx.crg", "wrong-password").status_code == 401
    r = _login(attacker, srv.url, "esx.crg", DEMO_PASSWORD)  # even the right password waits here
    assert_problem(r, 429, "too-many-logins")
    assert int(r.headers["Retry-After"]) >= 25
    assert _login(user, srv.url, "esx.crg", DEMO_PASSWORD, "device-0002").status_code == 200


def test_guessing_the_current_password_with_a_stolen_token_is_throttled(srv):
    """An access token is not a licence to guess the password behind it: wrong current passwords on
    POST /auth/password slow down like logins, and the password stays as it was."""
    thief = Client(srv.url, "esx.health-visitor")
    thief.http.mount("http://", _From("127.0.0.4"))
    change = {"new_password": "a-much-longer-new-passphrase-42"}
    for _ in range(5):
        assert_problem(thief.post("/api/v1/auth/password", json={**change, "current_password": "guess-123456"}),
                       403, "wrong-password")
    r = thief.post("/api/v1/auth/password", json={**change, "current_password": DEMO_PASSWORD})
    assert_problem(r, 429, "too-many-attempts")  # even the right one waits here
    assert int(r.headers["Retry-After"]) >= 25
    assert _login(_session("127.0.0.5"), srv.url, "esx.health-visitor", DEMO_PASSWORD, "device-0007").status_code == 200


def test_per_address_limit_reads_the_client_behind_a_trusted_proxy_only(srv):
    proxy = _session(PROXY)
    for i in range(8):  # a spray: one guess for each of eight usernames, from one client behind the proxy
        r = _login(proxy, srv.url, f"esx.user{i}", "wrong-password", headers={"X-Forwarded-For": "203.0.113.5"})
        assert r.status_code == 401
    assert_problem(_login(proxy, srv.url, "esx.business", DEMO_PASSWORD,
                          headers={"X-Forwarded-For": "203.0.113.5"}), 429, "too-many-logins")
    # everyone else behind the same proxy is unaffected
    r = _login(proxy, srv.url, "esx.business", DEMO_PASSWORD, "device-0003",
               headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.99"})
    assert r.status_code == 200
    # a client that is not a trusted proxy cannot pick its address with the header
    direct = _session("127.0.0.4")
    for i in range(8):
        _login(direct, srv.url, f"esx.other{i}", "wrong-password", headers={"X-Forwarded-For": f"192.0.2.{i}"})
    assert_problem(_login(direct, srv.url, "esx.hos", DEMO_PASSWORD, headers={"X-Forwarded-For": "192.0.2.200"}),
                   429, "too-many-logins")


def test_parallel_refreshes_keep_the_session_and_a_late_reuse_ends_it(srv):
    c = Client(srv.url, "esx.reviewer")

    def refresh(_):
        return requests.post(srv.url + "/api/v1/auth/refresh", headers=c.headers(c.refresh), timeout=30)

    with cf.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(refresh, range(8)))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    newest = answers[-1].json()
    assert requests.get(srv.url + "/api/v1/auth/whoami", headers=c.headers(newest["access_token"])).status_code == 200
    assert requests.post(srv.url + "/api/v1/auth/refresh", headers=c.headers(newest["refresh_token"])).ok


def test_refresh_grace_is_short_and_reuse_after_it_ends_the_session(tmp_path):
    clock = Clock(dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC))
    store = open_store(tmp_path / "store")
    try:
        accounts = Accounts(store, clock, refresh_grace_seconds=10)
        accounts.add_partnership("east-sussex", "East Sussex")
        user = accounts.add_user("esx.crg", DEMO_PASSWORD, "east-sussex", ["crg_member"])
        first = accounts.open_session(user, "device-0001")
        second = accounts.rotate_refresh(first.session_id, first.refresh_jti)
        clock.set(clock.now() + dt.timedelta(seconds=9))
        again = accounts.rotate_refresh(first.session_id, first.refresh_jti)  # a parallel refresh: honoured
        assert again.refresh_jti == second.refresh_jti
        clock.set(clock.now() + dt.timedelta(seconds=2))  # past the grace: a copied token
        with pytest.raises(Exception, match="already used") as refused:
            accounts.rotate_refresh(first.session_id, first.refresh_jti)
        assert refused.value.status == 401
        with pytest.raises(Exception, match="revoked"):
            accounts.rotate_refresh(first.session_id, second.refresh_jti)  # the session is over
    finally:
        store.close()


def test_devices_per_user_are_capped_and_logout_frees_a_place(srv):
    http = _session("127.0.0.6")
    tokens = []
    for i in range(3):
        r = _login(http, srv.url, "esx.police-lead", DEMO_PASSWORD, f"device-cap-{i:04d}")
        assert r.status_code == 200, r.text
        tokens.append(r.json()["access_token"])
    problem = assert_problem(_login(http, srv.url, "esx.police-lead", DEMO_PASSWORD, "device-cap-0003"),
                             409, "device-limit-reached")
    assert problem["limit"] == 3
    assert http.post(srv.url + "/api/v1/auth/logout", headers={"Authorization": f"Bearer {tokens[0]}"}).ok
    assert _login(http, srv.url, "esx.police-lead", DEMO_PASSWORD, "device-cap-0003").status_code == 200


def test_push_subscriptions_per_user_are_capped_over_http(srv):
    from tests.push.pushservice import Browser

    answers = []
    for i in range(3):
        c = Client(srv.url, "esx.health-lead", device_id=f"device-sub-{i:04d}")
        answers.append(c.post("/api/v1/push/subscriptions", {
            "endpoint": f"https://fcm.googleapis.com/fcm/send/esx-{i}", "keys": Browser().keys()}))
    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert assert_problem(answers[2], 409, "push-subscription-limit")["limit"] == 2


def test_the_throttle_survives_a_restart(srv):
    http = _session("127.0.0.5")
    for _ in range(5):
        assert _login(http, srv.url, "esx.la-lead", "wrong-password").status_code == 401
    srv.stop()
    srv.start()
    assert_problem(_login(http, srv.url, "esx.la-lead", DEMO_PASSWORD), 429, "too-many-logins")


def test_delays_double_per_pair_and_are_shared_between_processes(tmp_path):
    now = [1_000_000.0]
    policy = ThrottlePolicy(free_failures=2, base_delay=30, max_delay=200, address_max_failures=1000)
    throttle = LoginThrottle(SQLiteThrottleStore(tmp_path / "t.sqlite3"), b"k" * 32, policy, clock=lambda: now[0])
    waits = []
    for _ in range(6):
        throttle.failed("esx.crg", "192.0.2.1")
        waits.append(throttle.retry_after("esx.crg", "192.0.2.1"))
    assert waits == [0, 30, 60, 120, 200, 200]
    assert throttle.retry_after("esx.crg", "192.0.2.2") == 0  # another address: no wait
    # another process sees the same counters (one SQLite file in the data directory)
    code = ("import sys; from server.auth.throttle import *; "
            "t = LoginThrottle(SQLiteThrottleStore(sys.argv[1]), b'k' * 32, ThrottlePolicy(free_failures=2, "
            "base_delay=30, max_delay=200), clock=lambda: 1_000_000.0); t.failed('esx.hos', '192.0.2.9'); "
            "t.failed('esx.hos', '192.0.2.9'); t.failed('esx.hos', '192.0.2.9')")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.sqlite3")], cwd=ROOT, check=True, timeout=60)
    assert throttle.retry_after("esx.hos", "192.0.2.9") == 60
    assert "esx.hos" not in (tmp_path / "t.sqlite3").read_bytes().decode("latin-1")  # keys are HMACs
    throttle.succeeded("esx.hos", "192.0.2.9")
    assert throttle.retry_after("esx.hos", "192.0.2.9") == 0


@pytest.mark.parametrize(("password", "why"), [
    ("password12", "common or breached"),
    ("Dragon123456", "common or breached"),
    ("esx.crg-2024!", "username"),
    ("short", "at least 10"),
    ("aaaaaaaaaaaa", "repeat"),
])
def test_weak_passwords_are_refused(password, why):
    assert any(why in p for p in password_problems(password, "esx.crg"))


def test_account_creation_applies_the_password_rules_and_separation_of_duties(tmp_path):
    store = open_store(tmp_path / "store")
    try:
        accounts = Accounts(store, Clock())
        accounts.add_partnership("east-sussex", "East Sussex")
        for password, roles, why in [("password12", ["crg_member"], "breached"),
                                     ("esx.someone-xyz", ["crg_member"], "username"),
                                     (DEMO_PASSWORD, ["admin", "lead_reviewer"], "separation of duties")]:
            with pytest.raises(ValueError, match=why):
                accounts.add_user("esx.someone", password, "east-sussex", roles)
        assert accounts.list_users() == []
    finally:
        store.close()


def test_the_demo_password_meets_the_rules_for_every_demo_account(tmp_path):
    assert all(password_problems("caseflow-demo", username) == [] for username, *_ in USERS)
    assert all(password_problems(DEMO_PASSWORD, username) == [] for username, *_ in USERS)
