"""``caseflow init`` on an empty data directory, then the admin commands while ``caseflow serve``
runs on it (ADR 0020): the real command, the real server, loopback HTTP."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from server.admin.client import AdminClient
from server.admin.operator import clear_address, record_address
from server.cli import main
from store.auditcheck import audit_entries
from tests.server.test_cli_and_lifecycle import cli
from tests.support import DEMO_PASSWORD, Client, InProcessApp, LiveServer, assert_problem

PASSWORD = "first-admin-password"
ENV = {"CASEFLOW_NEW_USER_PASSWORD": PASSWORD}


def test_init_then_administer_a_running_server(tmp_path):
    data = tmp_path / "data"
    first = cli("init", "--partnership", "kent", "--name", "Kent Safeguarding Children Partnership",
                "--admin", "kent.admin", data_dir=data, env=ENV)
    assert first.returncode == 0 and "created partnership kent" in first.stdout, first.stderr
    again = cli("init", "--partnership", "kent", "--name", "Kent Safeguarding Children Partnership",
                "--admin", "kent.admin", data_dir=data, env={})  # no password needed: nothing to create
    assert again.returncode == 0 and "nothing changed" in again.stdout, again.stderr

    srv = LiveServer(data, demo=False).start(timeout=120)
    try:
        admin = Client(srv.url, "kent.admin", password=PASSWORD)
        assert admin.user["roles"] == ["admin"] and admin.user["partnership"] == "kent"
        # while the server runs: an agency and a colleague, from the command line
        out = cli("agencies", "add", "kent-police", "--partnership", "kent", "--sector", "police",
                  "--name", "Kent Police", data_dir=data)
        assert out.returncode == 0, out.stderr
        out = cli("users", "add", "kent.police-dsl", "--partnership", "kent", "--agency", "kent-police",
                  "--role", "agency_safeguarding_lead", data_dir=data,
                  env={"CASEFLOW_NEW_USER_PASSWORD": "dsl-password-1"})
        assert out.returncode == 0 and "created kent.police-dsl" in out.stdout, out.stderr
        dsl = Client(srv.url, "kent.police-dsl", password="dsl-password-1")
        assert dsl.user["agency"] == "kent-police"
        # the admin sees the colleague the command made, with its id, over the API
        users = {u["username"]: u for u in admin.get("/api/v1/admin/users").json()["users"]}
        assert users["kent.police-dsl"]["user_id"] == dsl.user["user_id"]
        # the last admin cannot be disabled, from the command line either
        out = cli("users", "disable", "kent.admin", data_dir=data)
        assert out.returncode != 0 and "last active admin" in out.stderr, out.stderr
        out = cli("devices", "revoke", dsl.device_id, data_dir=data)
        assert out.returncode == 0, out.stderr
        assert_problem(dsl.get("/api/v1/auth/whoami"), 403, "device-revoked")
        assert requests.get(srv.url + "/readyz").status_code == 200
    finally:
        srv.stop()
    # every step is in the audit chain, naming who made it
    entries = [e.entry for e in audit_entries(data / "store", subject=None)]
    by_action = {e["action"]: e for e in entries if e.get("action")}
    assert by_action["partnership.create"]["by"]["user_id"] == "operator"
    assert by_action["agency.create"]["by"]["user_id"] == "operator"
    assert by_action["device.revoke"]["by"]["user_id"] == "operator"
    created = [e for e in entries if e.get("action") == "user.create"]
    assert [e["by"]["user_id"] for e in created] == ["operator", "operator"]
    # a server killed by a signal leaves its address behind: the command sees the process is gone
    # and opens the data directory itself
    out = cli("users", "list", "--partnership", "kent", data_dir=data)
    assert out.returncode == 0 and "kent.police-dsl\t" in out.stdout, out.stderr


# -- every admin command against one running server --------------------------------------------------
# The server runs in this process (the real app on loopback HTTP) and records its address as
# ``caseflow serve`` does; the commands run through click's CliRunner in this process too (a
# subprocess each would cost a second of imports), and reach the server over HTTP as the operator.
@pytest.fixture(scope="module")
def running(tmp_path_factory):
    data = tmp_path_factory.mktemp("admin-cli") / "data"
    site = InProcessApp(data)
    site.data_dir = data
    record_address(data, "127.0.0.1", site.port)
    with AdminClient(data) as client:
        assert client.url == site.url  # the commands below talk to the running server, not the store
    yield site
    clear_address(data)
    site.close()


def run(site, *args: str, password: str | None = None, ok: bool = True):
    env = {"CASEFLOW_NEW_USER_PASSWORD": password} if password else {}
    result = CliRunner().invoke(main, [*args, "--data", str(site.data_dir)], env=env)
    assert (result.exit_code == 0) is ok, (args, result.output)
    return result


def _audit(site, action: str) -> list[dict]:
    return [e.entry for e in site.store.audit_log() if e.entry.get("action") == action]


def _login(site, username: str, password: str, device: str) -> requests.Response:
    return requests.post(site.url + "/api/v1/auth/login",
                         json={"username": username, "password": password, "device_id": device})


def test_partnerships_list_and_update(running):
    listed = run(running, "partnerships", "list").stdout.splitlines()
    assert "east-sussex\tESX\tEast Sussex Safeguarding Children Partnership" in listed
    assert {line.split("\t")[0] for line in listed} >= {"east-sussex", "west-sussex", "brighton-hove"}
    out = run(running, "partnerships", "update", "west-sussex", "--name", "West Sussex SCP").stdout
    assert out.strip() == "renamed partnership west-sussex: West Sussex SCP"
    assert running.store.get("partnerships", "west-sussex").data["name"] == "West Sussex SCP"
    assert "unchanged" in run(running, "partnerships", "update", "west-sussex", "--name", "West Sussex SCP").stdout
    before = running.store.last_seq()
    assert "no partnership kent" in run(running, "partnerships", "update", "kent", "--name", "K", ok=False).output
    out = run(running, "partnerships", "update", "west-sussex", "--name", "   ", ok=False).output
    assert "/name" in out
    assert running.store.last_seq() == before
    assert [e["by"]["user_id"] for e in _audit(running, "partnership.update")] == ["operator"]


def test_users_show_update_disable_enable(running):
    worker = Client(running.url, "esx.social-worker")
    uid = worker.user["user_id"]
    shown = dict(line.split("\t", 1) for line in run(running, "users", "show", "esx.social-worker").stdout
                 .splitlines() if not line.startswith("device\t"))
    assert shown["user_id"] == uid and shown["roles"] == "practitioner" and shown["disabled"] == "False"
    assert shown["agency"] == "esx-childrens-services" and shown["partnership"] == "east-sussex"
    devices = [line.split("\t") for line in run(running, "users", "show", "esx.social-worker").stdout
               .splitlines() if line.startswith("device\t")]
    assert [d[1] for d in devices] == [worker.device_id] and devices[0][3] == "active"
    assert devices[0][2] != "last seen -"
    assert "no user nobody" in run(running, "users", "show", "nobody", ok=False).output
    # roles, agency, display name: replaced as given; the same again changes nothing
    out = run(running, "users", "update", "esx.social-worker", "--role", "practitioner", "--role",
              "agency_safeguarding_lead", "--agency", "-", "--display-name", "Sam Social").stdout
    assert out.strip() == "updated esx.social-worker"
    user = running.store.get("users", uid).data
    assert user["roles"] == ["agency_safeguarding_lead", "practitioner"] and user["agency"] is None
    assert user["display_name"] == "Sam Social"
    assert "unchanged" in run(running, "users", "update", "esx.social-worker", "--display-name", "Sam Social").stdout
    before = running.store.last_seq()
    out = run(running, "users", "update", "esx.social-worker", "--agency", "wsx-schools", ok=False).output
    assert "/agency" in out  # another partnership's agency
    assert "/roles" in run(running, "users", "update", "esx.social-worker", "--role", "wizard", ok=False).output
    assert run(running, "users", "update", "esx.social-worker", ok=False).exit_code == 2  # nothing to change
    assert running.store.last_seq() == before
    # disable ends the live token; enable lets them in again; enabling twice says so
    assert run(running, "users", "disable", "esx.social-worker").stdout.strip() == "disabled esx.social-worker"
    assert_problem(worker.get("/api/v1/auth/whoami"), 401, "account-disabled")
    assert _login(running, "esx.social-worker", DEMO_PASSWORD, "dev-sw-000002").status_code == 401
    assert run(running, "users", "enable", "esx.social-worker").stdout.strip() == "enabled esx.social-worker"
    assert "(it already was)" in run(running, "users", "enable", "esx.social-worker").stdout
    assert _login(running, "esx.social-worker", DEMO_PASSWORD, "dev-sw-000003").status_code == 200
    for action in ("user.update", "user.disable", "user.enable"):
        assert [e["by"]["user_id"] for e in _audit(running, action)] == ["operator"], action


def test_users_reset_password_token_and_temporary(running):
    visitor = Client(running.url, "esx.health-visitor")
    out = run(running, "users", "reset-password", "esx.health-visitor").stdout.splitlines()
    assert out[0].startswith("reset token for esx.health-visitor (valid until ")
    token = out[-1]
    assert token not in str([e.entry for e in running.store.audit_log()])
    body = {"username": "esx.health-visitor", "reset_token": token, "new_password": "visitor-new-pass-1"}
    assert requests.post(running.url + "/api/v1/auth/password-reset", json=body).status_code == 200
    assert_problem(visitor.get("/api/v1/auth/whoami"), 401)  # the old sessions ended
    assert _login(running, "esx.health-visitor", DEMO_PASSWORD, "dev-hv-000002").status_code == 401
    assert _login(running, "esx.health-visitor", "visitor-new-pass-1", "dev-hv-000003").status_code == 200
    # a temporary password: it logs in, but must be changed before anything else
    out = run(running, "users", "reset-password", "esx.health-visitor", "--temporary", password="temporary-pass-9")
    assert "must be changed at the next login" in out.stdout
    temp = Client(running.url, "esx.health-visitor", password="temporary-pass-9")
    assert temp.user["password_change_required"] is True
    assert_problem(temp.get("/api/v1/cases"), 403, "password-change-required")
    r = temp.post("/api/v1/auth/password", json={"current_password": "temporary-pass-9",
                                                 "new_password": "visitor-own-pass-2"})
    assert r.status_code == 200, r.text
    assert temp.get("/api/v1/cases").status_code == 200
    assert _login(running, "esx.health-visitor", "visitor-own-pass-2", "dev-hv-000004").status_code == 200
    # a too-short temporary password is refused, naming the field, and changes nothing
    before = running.store.last_seq()
    out = run(running, "users", "reset-password", "esx.health-visitor", "--temporary", password="short", ok=False)
    assert "/temporary_password" in out.output and running.store.last_seq() == before
    assert [e["by"]["user_id"] for e in _audit(running, "user.password_reset_issued")] == ["operator"]
    assert [e["by"]["user_id"] for e in _audit(running, "user.password_set")] == ["operator"]


def test_agencies_list_update_and_devices_list(running):
    listed = run(running, "agencies", "list", "--partnership", "east-sussex").stdout.splitlines()
    assert "sussex-police\tpolice\tSussex Police\tactive" in listed
    assert not any(line.startswith("wsx-schools\t") for line in listed)
    out = run(running, "agencies", "update", "esx-schools", "--name", "East Sussex Schools and Colleges",
              "--inactive")
    assert out.stdout.strip() == "updated agency esx-schools"
    listed = run(running, "agencies", "list", "--partnership", "east-sussex").stdout.splitlines()
    assert "esx-schools\teducation\tEast Sussex Schools and Colleges\tinactive" in listed
    run(running, "agencies", "update", "esx-schools", "--active")
    assert running.store.get("agencies", "esx-schools").data["active"] is True
    before = running.store.last_seq()
    assert "/sector" in run(running, "agencies", "update", "esx-schools", "--sector", "army", ok=False).output
    assert "no agency" in run(running, "agencies", "update", "no-such-agency", "--name", "X", ok=False).output
    assert running.store.last_seq() == before
    assert [e["by"]["user_id"] for e in _audit(running, "agency.update")] == ["operator", "operator"]
    # devices list: each device with when it was last seen
    first, second = Client(running.url, "esx.police-dsl"), Client(running.url, "esx.police-dsl")
    rows = [line.split("\t") for line in run(running, "devices", "list", "esx.police-dsl").stdout.splitlines()]
    assert {r[0] for r in rows} == {first.device_id, second.device_id}
    assert all(r[1] != "-" and r[2] == "active" for r in rows)
    run(running, "devices", "revoke", first.device_id)
    rows = {r[0]: r[2] for r in (line.split("\t") for line in
                                 run(running, "devices", "list", "esx.police-dsl").stdout.splitlines())}
    assert rows == {first.device_id: "revoked", second.device_id: "active"}


def test_init_refuses_another_name_or_a_taken_username(running):
    name = running.store.get("partnerships", "east-sussex").data["name"]
    before = running.store.last_seq()
    out = run(running, "init", "--partnership", "east-sussex", "--name", "Another Name", "--admin", "esx.admin",
              ok=False).output
    assert f"already exists as '{name}'" in out and "nothing changed" in out
    out = run(running, "init", "--partnership", "east-sussex", "--name", name, "--admin", "esx.business",
              ok=False).output
    assert "taken by another account" in out
    # a new partnership whose admin username another partnership's user holds: nothing is created
    out = run(running, "init", "--partnership", "kent", "--name", "Kent", "--admin", "wsx.business",
              password="kent-admin-password", ok=False).output
    assert "taken by another account" in out and "nothing changed" in out
    assert running.store.get("partnerships", "kent") is None
    # a first admin's password that will be refused is refused before the partnership is made
    out = run(running, "init", "--partnership", "kent", "--name", "Kent", "--admin", "kent.admin",
              password="kent.admin", ok=False).output
    assert "password" in out and "nothing changed" in out
    assert running.store.get("partnerships", "kent") is None
    assert running.store.last_seq() == before
    # and the same partnership and admin again: nothing to do
    out = run(running, "init", "--partnership", "east-sussex", "--name", name, "--admin", "esx.admin").stdout
    assert "already initialised" in out and running.store.last_seq() == before
