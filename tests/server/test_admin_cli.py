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
from tests.support import Client, InProcessApp, LiveServer, assert_problem

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
