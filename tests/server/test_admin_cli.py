"""``caseflow init`` on an empty data directory, then the admin commands while ``caseflow serve``
runs on it (ADR 0020): the real command, the real server, loopback HTTP."""

from __future__ import annotations

import requests

from store.auditcheck import audit_entries
from tests.server.test_cli_and_lifecycle import cli
from tests.support import Client, LiveServer, assert_problem

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
