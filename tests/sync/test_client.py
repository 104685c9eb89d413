"""The reference client against the real server over loopback: the CLI end to end, whole-batch
retries through a cutting proxy, backoff on 429/5xx honouring Retry-After, cursor reset, token
refresh with rotation, pending results, and the wipe of a revoked device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sync import commands
from sync.client import DeviceRevoked, Http, NeedLogin, RetryPolicy, SyncClient, SyncError, Unavailable
from sync.client.core import MAX_BATCH
from sync.client.local import Queued
from tests.pgfixtures import ServedOnPostgres, stores
from tests.support import DEMO_PASSWORD, ROOT
from tests.sync.harness import FORM, InProcessServer, device, form_version, referral_data
from tests.sync.proxy import CuttingProxy


@pytest.fixture(scope="module", params=stores("pg-client"))
def srv(request, tmp_path_factory):
    # no grace for parallel refreshes here: a reused refresh token must end the session at once
    # (the grace itself is tested in tests/server/test_login_hardening.py)
    data = tmp_path_factory.mktemp("client") / "data"
    if request.param == "postgres":
        s = ServedOnPostgres(request, data, {"CASEFLOW_REFRESH_GRACE_SECONDS": "0"})
    else:
        s = InProcessServer(data, refresh_grace_seconds=0.0)
    yield s
    s.close()


def cli(state, *args, server=None):
    env = {**os.environ, "CASEFLOW_PASSWORD": DEMO_PASSWORD}
    cmd = [sys.executable, "-m", "sync.client_cli", "--state", str(state)]
    if server:
        cmd += ["--server", server]
    return subprocess.run(cmd + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_cli_login_queue_sync_status(srv, tmp_path):
    state = tmp_path / "device.db"
    out = cli(state, "login", "--username", "esx.school-dsl", server=srv.url)
    assert out.returncode == 0 and "esx.school-dsl" in out.stdout, out.stderr
    (tmp_path / "referral.json").write_text(json.dumps(referral_data()))
    case_id = str(uuid.uuid4())
    out = cli(state, "queue-create", "--case-type", "serious_incident", "--form-id", FORM, "--form-version",
              str(form_version()), "--data", f"@{tmp_path / 'referral.json'}", "--case-id", case_id)
    assert out.returncode == 0 and "seq=1" in out.stdout, out.stderr
    out = cli(state, "queue-transition", "--case-id", case_id, "--event", "put_to_crg", "--expected-state",
              "referred")
    assert "seq=2" in out.stdout
    out = cli(state, "sync")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split("\t")[:3][0] == "1" and "\tapplied\t" in lines[0] and f"case_id={case_id}" in lines[0]
    assert "\trejected\t" in lines[1] and "problem=forbidden-role" in lines[1]  # the DSL may not put it to the CRG
    assert lines[2].startswith("pulled ")
    status = json.loads(cli(state, "status").stdout)
    assert status["outbox"] == 0 and status["replica"]["case"] >= 1 and status["user"] == "esx.school-dsl"
    assert "referral" not in cli(state, "results").stdout  # ids and outcomes only
    assert cli(state, "push").stdout == ""  # nothing left to send
    assert cli(tmp_path / "new.db", "push").returncode == 1  # no server known: a clear error, no traceback


def test_a_response_lost_after_commit_is_retried_whole_and_applied_once(srv, tmp_path):
    proxy = CuttingProxy(srv.port)
    try:
        d = device(tmp_path / "d.db", proxy.url, "esx.business")
        queued = [d.create_case("serious_incident", FORM, form_version(), referral_data()) for _ in range(3)]
        proxy.force = ["drop_response", "cut_response", "drop_request"]
        results = d.push()
        assert [r["status"] for r in results] == ["duplicate"] * 3
        assert all(r["first_status"] == "applied" for r in results)
        assert d.http.retries == 3 and not d.local.outbox()
        for q in queued:
            assert srv.store.get("cases", q.case_id).version == 1
    finally:
        proxy.close()


class Flaky(BaseHTTPRequestHandler):
    script: list[tuple[int, dict]] = []

    def do_GET(self):
        status, headers = self.script.pop(0) if self.script else (200, {})
        body = json.dumps({"changes": [], "cursor": "c1", "has_more": False} if status == 200 else
                          {"type": "https://x/too-many", "status": status}).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_backoff_with_jitter_on_429_and_5xx_honours_retry_after(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        slept: list[float] = []
        Flaky.script = [(429, {"Retry-After": "7"}), (503, {}), (500, {}), (200, {})]
        http = Http(f"http://127.0.0.1:{server.server_port}", retry=RetryPolicy(attempts=5, base=1, cap=3),
                    sleep=slept.append)
        assert http.request("GET", "/api/v1/sync/pull").status == 200
        assert slept[0] == 7 and 0 <= slept[1] <= 2 and 0 <= slept[2] <= 3 and len(slept) == 3
        Flaky.script = [(503, {})] * 5
        with pytest.raises(Unavailable):
            http.request("GET", "/x")
    finally:
        server.shutdown()
    closed = Http("http://127.0.0.1:9", retry=RetryPolicy(attempts=3, base=0), sleep=lambda s: None)
    with pytest.raises(Unavailable):
        closed.request("GET", "/healthz")
    assert closed.retries == 2


def test_batches_respect_count_and_size_limits():
    small = [Queued(i, str(uuid.uuid4()), "create_case", None, None, {"x": 1}, "t") for i in range(1, 451)]
    assert [len(b) for b in SyncClient.batches(small)] == [MAX_BATCH, MAX_BATCH, 50]
    big = [Queued(i, str(uuid.uuid4()), "save_submission", None, None, {"x": "y" * 300_000}, "t") for i in range(7)]
    sizes = [len(b) for b in SyncClient.batches(big)]
    assert sizes == [3, 3, 1] and [q.seq for b in SyncClient.batches(big) for q in b] == list(range(7))


def test_cursor_reset_refresh_rotation_and_pending(srv, tmp_path):
    d = device(tmp_path / "d.db", srv.url, "esx.business")
    d.create_case("serious_incident", FORM, form_version(), referral_data())
    d.sync()
    before = {k: v[0] for k, v in d.local.entities().items()}
    d.local.set(cursor=d.local.get("cursor")[:-3] + "AAA")  # a cursor the server never issued
    d.local.apply_page([{"entity": "case", "id": "stale", "version": 1, "data": {}}], d.local.get("cursor"))
    d.pull()
    assert {k: v[0] for k, v in d.local.entities().items()} == before  # wiped and pulled again from empty
    refresh = d.local.get("refresh_token")
    d.local.set(access_token="not-a-token")
    d.create_case("serious_incident", FORM, form_version(), referral_data())
    assert d.push()[0]["status"] == "applied"  # 401, refreshed, sent again
    assert d.local.get("refresh_token") != refresh
    r = requests.post(srv.url + "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {refresh}"}, timeout=10)
    assert r.status_code == 401  # the old refresh token is spent, and its reuse ended the session
    with pytest.raises(NeedLogin):
        d.pull()
    d.login("esx.business", DEMO_PASSWORD)
    # a gap (the server has not seen an earlier seq): the later one is held, and stays queued
    first = d.create_case("serious_incident", FORM, form_version(), referral_data())
    d.create_case("serious_incident", FORM, form_version(), referral_data())
    d.local.db.execute("DELETE FROM outbox WHERE seq = ?", (first.seq,))
    assert [r["status"] for r in d.push()] == ["pending"]
    assert len(d.local.outbox()) == 1 and d.local.results()[-1]["status"] == "pending"


def test_a_revoked_device_wipes_its_file_outbox_included(srv, tmp_path):
    d = device(tmp_path / "lost.db", srv.url, "esx.health-dsl")
    d.create_case("serious_incident", FORM, form_version(), referral_data())
    admin = device(tmp_path / "admin.db", srv.url, "esx.admin")
    r = requests.post(f"{srv.url}/api/v1/devices/{d.device_id}/revoke",
                      headers={"Authorization": f"Bearer {admin.local.get('access_token')}"}, timeout=10)
    assert r.status_code == 200, r.text
    with pytest.raises(DeviceRevoked):
        d.sync()
    assert not (tmp_path / "lost.db").exists() and not (tmp_path / "lost.db-wal").exists()
    with pytest.raises(DeviceRevoked):
        d.pull()


def _pushed(d: SyncClient) -> list[str]:
    return [r["status"] for r in d.push()]


def _server_form(srv, case_id: str) -> tuple[int, dict]:
    """The submission's version and form data as the server holds them now."""
    doc = srv.store.get("submissions", f"{case_id}.{FORM}")
    return doc.version, {**doc.data["data"], "open_conflicts": doc.data["open_conflicts"]}


def _conflicts_of(srv, case_id: str) -> list[dict]:
    return [c.data for c in srv.store.scan("conflicts") if c.data["case_id"] == case_id]


def _shared_case(srv, tmp_path, *users: str) -> tuple[str, list[SyncClient]]:
    """A case every one of these devices has pulled (its referral at version 1)."""
    devices = [device(tmp_path / f"{u}.db", srv.url, u) for u in users]
    case_id = devices[0].create_case("serious_incident", FORM, form_version(), referral_data()).case_id
    assert _pushed(devices[0]) == ["applied"]
    for d in devices:
        d.pull()
        assert d.local.entity("submission", f"{case_id}.{FORM}")[0] == 1
    return case_id, devices


def _edit(d: SyncClient, case_id: str, **fields: str):
    data = d.local_submission(case_id, FORM)
    data.update(fields)
    return d.save_submission(case_id, FORM, form_version(), data, "final")


def test_two_offline_edits_of_one_field_on_one_device_are_not_a_conflict(srv, tmp_path):
    case_id, (a,) = _shared_case(srv, tmp_path, "esx.business")
    first, second = _edit(a, case_id, incident_summary="First take."), _edit(a, case_id, incident_summary="Second.")
    assert first.base_version == second.base_version == 1  # the replica has not seen the first edit
    results = a.push()
    assert [r["status"] for r in results] == ["applied", "applied"] and not any("conflicts" in r for r in results)
    version, data = _server_form(srv, case_id)
    assert version == 3 and data["incident_summary"] == "Second." and data["open_conflicts"] == []
    assert srv.store.get("revisions", f"{case_id}.{FORM}@2").data["data"]["incident_summary"] == "First take."
    assert _conflicts_of(srv, case_id) == []
    a.pull()
    assert a.local_submission(case_id, FORM)["incident_summary"] == "Second."


def test_a_save_reads_a_bounded_number_of_revisions_to_learn_what_its_device_has_seen(tmp_path, monkeypatch):
    """Past SEEN_WALK_LIMIT revisions after its base_version a save merges from the plain base: its
    device's own earlier edits no longer count as seen, so typing over them is a recorded conflict,
    never a loss; within the limit they count as seen (the same three offline edits, no conflict)."""
    server = InProcessServer(tmp_path / "data", refresh_grace_seconds=0.0)
    try:
        within, (a,) = _shared_case(server, tmp_path / "within", "esx.business")
        beyond, (b,) = _shared_case(server, tmp_path / "beyond", "esx.business")
        for text in ("One.", "Two.", "Three."):
            _edit(a, within, incident_summary=text)
        assert [r["status"] for r in a.push()] == ["applied", "applied", "applied"]
        monkeypatch.setattr(commands, "SEEN_WALK_LIMIT", 1)  # the third save is 2 revisions past its base
        for text in ("One.", "Two.", "Three."):
            _edit(b, beyond, incident_summary=text)
        assert [r["status"] for r in b.push()] == ["applied", "applied", "conflict"]
        _, data = _server_form(server, beyond)
        [clash] = _conflicts_of(server, beyond)
        assert data["incident_summary"] == "Two." and (clash["path"], clash["kept"], clash["incoming"]) == (
            "/incident_summary", "Two.", "Three.")
    finally:
        server.close()


def test_another_devices_edit_between_is_merged_and_a_real_clash_still_recorded(srv, tmp_path):
    case_id, (a, b) = _shared_case(srv, tmp_path, "esx.business", "esx.school-dsl")
    # A edits the summary, pushes without pulling, edits it again: still from base version 1
    _edit(a, case_id, incident_summary="A one.")
    assert _pushed(a) == ["applied"]
    assert a.local_submission(case_id, FORM)["incident_summary"] == "A one."  # its own pushed edit, not pulled yet
    b.pull()
    _edit(b, case_id, harm_details="B's details.")  # B saw A's first edit and edits another field
    assert _pushed(b) == ["applied"]
    _edit(a, case_id, incident_summary="A two.")
    assert _pushed(a) == ["applied"]
    _, data = _server_form(srv, case_id)
    assert data["incident_summary"] == "A two." and data["harm_details"] == "B's details."
    # B now changes the summary A wrote; A, still offline from version 1, types over it again: a real clash
    b.pull()
    _edit(b, case_id, incident_summary="B's summary.")
    assert _pushed(b) == ["applied"]
    _edit(a, case_id, incident_summary="A three.")
    assert _pushed(a) == ["conflict"]
    _, data = _server_form(srv, case_id)
    assert data["incident_summary"] == "B's summary." and data["harm_details"] == "B's details."
    [clash] = _conflicts_of(srv, case_id)
    assert (clash["path"], clash["base"], clash["kept"], clash["incoming"]) == (
        "/incident_summary", "A two.", "B's summary.", "A three.")


def test_another_user_on_the_same_device_never_inherits_the_first_users_work(srv, tmp_path):
    state = tmp_path / "shared-tablet.db"
    first = device(state, srv.url, "esx.business")
    case_id = first.create_case("serious_incident", FORM, form_version(), referral_data()).case_id
    # unsent work of the first user: the second may not log in over it (it would be pushed as theirs)
    second = device(state, srv.url, "esx.school-dsl", login=False)
    with pytest.raises(SyncError, match="another user"):
        second.login("esx.school-dsl", DEMO_PASSWORD)
    assert second.local.outbox(), "the first user's work is still queued"
    # once the first user has synced, the second may log in, and sees nothing of the first's view
    assert _pushed(first) == ["applied"]
    first.pull()
    assert first.local.entity("case", case_id) is not None
    old_device = first.device_id
    second.login("esx.school-dsl", DEMO_PASSWORD)
    assert second.local.entities() == {} and second.local.get("cursor") == ""
    assert second.device_id != old_device, "a device id belongs to one account: the new user gets their own"
    assert second.local.get("next_seq") == 1
    second.pull()
    fresh = device(tmp_path / "school-elsewhere.db", srv.url, "esx.school-dsl")
    fresh.pull()
    assert set(second.local.entities()) == set(fresh.local.entities()), "exactly the school's own view"
