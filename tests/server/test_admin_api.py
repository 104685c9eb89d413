"""The admin API over real loopback HTTP: users, agencies, passwords, devices; confinement to the
admin's partnership, the last-admin rule, and an audit entry naming who made each change."""

from __future__ import annotations

import pytest
import requests

from tests.server.casehelpers import create_payload
from tests.support import DEMO_PASSWORD, Client, InProcessApp, assert_problem

NEW_PASSWORD = "a-long-enough-password"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    app = InProcessApp(tmp_path_factory.mktemp("admin") / "data")
    yield app
    app.close()


def _audit(site, action: str) -> list[dict]:
    return [e.entry for e in site.store.audit_log() if e.entry.get("action") == action]


def _login(site, username: str, password: str, device: str | None = None) -> requests.Response:
    return requests.post(site.url + "/api/v1/auth/login", json={
        "username": username, "password": password, "device_id": device or f"dev-{username}-0001"})


def test_user_lifecycle_is_audited_with_who(site):
    admin = site.client("esx.admin")
    r = admin.post("/api/v1/admin/users", json={
        "username": "esx.new-crg", "password": NEW_PASSWORD, "display_name": "Dana Scully",
        "roles": ["crg_member"]})
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["display_name"] == "Dana Scully" and NEW_PASSWORD not in r.text and "hash" not in r.text
    listed = admin.get("/api/v1/admin/users").json()["users"]
    assert {u["username"] for u in listed} >= {"esx.admin", "esx.new-crg"}
    assert all(u["partnership"] == "east-sussex" and u["user_id"] for u in listed)
    assert admin.get(f"/api/v1/admin/users/{user['user_id']}").json()["roles"] == ["crg_member"]
    # roles, agency, display name
    r = admin.http.patch(site.url + f"/api/v1/admin/users/{user['user_id']}", headers=admin.headers(),
                         json={"roles": ["crg_member", "business_team"], "agency": "sussex-police",
                               "display_name": "D. Scully"})
    assert r.status_code == 200 and r.json()["changed"], r.text
    assert r.json()["user"]["roles"] == ["business_team", "crg_member"]
    assert r.json()["user"]["agency"] == "sussex-police"
    # another partnership's agency is refused and nothing changes
    r = admin.http.patch(site.url + f"/api/v1/admin/users/{user['user_id']}", headers=admin.headers(),
                         json={"agency": "wsx-schools"})
    assert assert_problem(r, 422, "unknown-agency")["errors"][0]["path"] == "/agency"
    # disable: the user's live token fails at once; enable: they log in again
    crg = Client(site.url, "esx.new-crg", password=NEW_PASSWORD)
    assert admin.post(f"/api/v1/admin/users/{user['user_id']}/disable").json()["changed"] is True
    assert_problem(crg.get("/api/v1/auth/whoami"), 401, "account-disabled")
    assert admin.post(f"/api/v1/admin/users/{user['user_id']}/enable").status_code == 200
    assert _login(site, "esx.new-crg", NEW_PASSWORD, "dev-crg-second").status_code == 200
    admin_id = admin.user["user_id"]
    for action in ("user.create", "user.update", "user.disable", "user.enable"):
        entries = [e for e in _audit(site, action) if e.get("user_id") == user["user_id"]]
        assert entries and entries[-1]["by"]["user_id"] == admin_id, action
        assert "Scully" not in str(entries)  # ids only in the audit trail
    # the pickers' directory follows (no username, no password state)
    entry = site.store.get("directory", user["user_id"]).data
    assert entry["display_name"] == "D. Scully" and entry["active"] and "username" not in entry


def test_bad_input_names_every_field_and_writes_nothing(site):
    admin = site.client("esx.admin")
    before = site.store.last_seq()
    r = admin.post("/api/v1/admin/users", json={"username": "Bad Name!", "password": "short", "roles": ["wizard"]})
    errors = {e["path"] for e in assert_problem(r, 422)["errors"]}
    assert errors == {"/username", "/password", "/roles"}
    r = admin.post("/api/v1/admin/users", json={"username": "esx.business", "password": NEW_PASSWORD,
                                                 "roles": ["crg_member"]})
    assert_problem(r, 409, "username-taken")
    r = admin.post("/api/v1/admin/users", json={"username": "esx.same", "password": "esx.same", "roles": ["admin"]})
    assert any(e["path"] == "/password" for e in assert_problem(r, 422)["errors"])
    assert_problem(admin.post("/api/v1/admin/agencies", json=["not", "an", "object"]), 422)
    assert site.store.last_seq() == before


def test_confined_to_own_partnership_and_admin_role(site):
    wsx_user = next(u for u in site.services.accounts.list_users() if u["username"] == "wsx.business")
    admin = site.client("esx.admin")
    for method, path in [("GET", f"/api/v1/admin/users/{wsx_user['user_id']}"),
                         ("POST", f"/api/v1/admin/users/{wsx_user['user_id']}/disable"),
                         ("PATCH", f"/api/v1/admin/users/{wsx_user['user_id']}"),
                         ("GET", f"/api/v1/admin/users/{wsx_user['user_id']}/devices"),
                         ("PATCH", "/api/v1/admin/agencies/wsx-schools")]:
        r = admin.http.request(method, site.url + path, headers=admin.headers(),
                               json={("name" if "agencies" in path else "display_name"): "x"}
                               if method == "PATCH" else None)
        assert r.status_code == 404, (path, r.text)
    assert all(u["partnership"] == "east-sussex" for u in admin.get("/api/v1/admin/users").json()["users"])
    business = site.client("esx.business")
    assert_problem(business.get("/api/v1/admin/users"), 403, "forbidden-role")
    assert_problem(business.post("/api/v1/admin/agencies", json={"agency_id": "x-y", "sector": "other",
                                                                  "name": "X"}), 403)
    # a forged operator header from a user is refused
    r = requests.get(site.url + "/api/v1/admin/users", headers={"X-Caseflow-Operator": "guess"})
    assert_problem(r, 403, "not-operator")
    assert_problem(requests.get(site.url + "/api/v1/admin/users"), 401)
    # only the operator creates partnerships
    assert_problem(admin.post("/api/v1/admin/partnerships", json={"partnership_id": "kent", "name": "K"}), 403)


def test_last_active_admin_stays(site):
    admin = site.client("esx.admin")
    me = admin.user["user_id"]
    assert_problem(admin.post(f"/api/v1/admin/users/{me}/disable"), 409, "cannot-disable-self")
    r = admin.http.patch(site.url + f"/api/v1/admin/users/{me}", headers=admin.headers(),
                         json={"roles": ["crg_member"]})
    assert_problem(r, 409, "last-admin")
    second = admin.post("/api/v1/admin/users", json={"username": "esx.admin2", "password": NEW_PASSWORD,
                                                      "roles": ["admin"]}).json()
    other = Client(site.url, "esx.admin2", password=NEW_PASSWORD)
    assert other.post(f"/api/v1/admin/users/{me}/disable").status_code == 200  # two admins: one may go
    assert_problem(other.post(f"/api/v1/admin/users/{second['user_id']}/disable"), 409)
    assert_problem(admin.get("/api/v1/admin/users"), 401, "account-disabled")
    assert other.post(f"/api/v1/admin/users/{me}/enable").status_code == 200
    # now the second admin may be disabled by the first
    admin2 = Client(site.url, "esx.admin", device_id="esx-admin-again-01")
    assert admin2.post(f"/api/v1/admin/users/{second['user_id']}/disable").status_code == 200


def test_agencies_add_rename_and_deactivate(site):
    admin = site.client("esx.admin")
    r = admin.post("/api/v1/admin/agencies", json={"agency_id": "esx-probation", "sector": "other",
                                                    "name": "Probation Service"})
    assert r.status_code == 201 and r.json()["partnership"] == "east-sussex", r.text
    assert_problem(admin.post("/api/v1/admin/agencies", json={"agency_id": "wsx-schools", "sector": "education",
                                                               "name": "Taken"}), 409, "agency-id-taken")
    r = admin.http.patch(site.url + "/api/v1/admin/agencies/esx-probation", headers=admin.headers(),
                         json={"name": "Kent, Surrey and Sussex Probation", "active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    listed = {a["id"]: a for a in admin.get("/api/v1/admin/agencies").json()["agencies"]}
    assert listed["esx-probation"]["active"] is False and "wsx-schools" not in listed
    # an inactive agency is no longer given to users
    r = admin.post("/api/v1/admin/users", json={"username": "esx.probation", "password": NEW_PASSWORD,
                                                 "roles": ["practitioner"], "agency": "esx-probation"})
    assert_problem(r, 422, "inactive-agency")
    # nor named as an involved agency of a new case
    r = site.client("esx.school-dsl").post("/api/v1/cases", json=create_payload(agencies=("esx-probation",)))
    assert_problem(r, 422, "unknown-agency")
    assert _audit(site, "agency.update")[-1]["by"]["user_id"] == admin.user["user_id"]


def test_temporary_password_must_be_changed(site):
    admin = site.client("esx.admin")
    user = admin.post("/api/v1/admin/users", json={"username": "esx.temp", "password": NEW_PASSWORD,
                                                    "roles": ["practitioner"], "agency": "uh-sussex"}).json()
    r = admin.post(f"/api/v1/admin/users/{user['user_id']}/password", json={"temporary_password": "temporary-pass-1"})
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    assert _login(site, "esx.temp", NEW_PASSWORD).status_code == 401
    temp = Client(site.url, "esx.temp", password="temporary-pass-1")
    assert temp.user["password_change_required"] is True
    assert_problem(temp.get("/api/v1/cases"), 403, "password-change-required")
    r = temp.post("/api/v1/auth/password", json={"current_password": "temporary-pass-1", "new_password": "esx.temp"})
    assert_problem(r, 422)
    r = temp.post("/api/v1/auth/password", json={"current_password": "wrong-one-here", "new_password": "fresh-pass-22"})
    assert_problem(r, 403, "wrong-password")
    r = temp.post("/api/v1/auth/password", json={"current_password": "temporary-pass-1",
                                                 "new_password": "fresh-pass-22"})
    assert r.status_code == 200, r.text
    assert temp.get("/api/v1/cases").status_code == 200
    assert _audit(site, "user.password_change")[-1]["by"]["user_id"] == user["user_id"]


def test_one_time_reset_token(site):
    admin = site.client("esx.admin")
    visitor = Client(site.url, "esx.health-visitor")
    uid = visitor.user["user_id"]
    token = admin.post(f"/api/v1/admin/users/{uid}/reset-token")
    assert token.status_code == 201, token.text
    reset = token.json()["reset_token"]
    assert reset not in str([e.entry for e in site.store.audit_log()])
    body = {"username": "esx.health-visitor", "reset_token": "not-the-token", "new_password": "brand-new-pass-1"}
    assert_problem(requests.post(site.url + "/api/v1/auth/password-reset", json=body), 400, "invalid-reset-token")
    r = requests.post(site.url + "/api/v1/auth/password-reset", json={**body, "reset_token": reset})
    assert r.status_code == 200, r.text
    # the old sessions ended, the new password works, and the token works only once
    assert_problem(visitor.get("/api/v1/auth/whoami"), 401)
    assert _login(site, "esx.health-visitor", "brand-new-pass-1", visitor.device_id).status_code == 200
    r = requests.post(site.url + "/api/v1/auth/password-reset", json={**body, "reset_token": reset})
    assert_problem(r, 400, "invalid-reset-token")


def test_devices_listed_with_last_seen_and_revoked(site):
    admin = site.client("esx.admin")
    worker = Client(site.url, "esx.social-worker")
    uid = worker.user["user_id"]
    devices = admin.get(f"/api/v1/admin/users/{uid}/devices").json()["devices"]
    mine = next(d for d in devices if d["device_id"] == worker.device_id)
    assert mine["last_seen"] and mine["revoked"] is False
    r = admin.post(f"/api/v1/admin/devices/{worker.device_id}/revoke")
    assert r.status_code == 200 and r.json()["revoked"] is True
    assert_problem(worker.get("/api/v1/auth/whoami"), 403, "device-revoked")
    wsx = Client(site.url, "wsx.business")
    assert_problem(admin.post(f"/api/v1/admin/devices/{wsx.device_id}/revoke"), 404)
    assert wsx.get("/api/v1/auth/whoami").status_code == 200
    assert _audit(site, "device.revoke")[-1]["by"]["user_id"] == admin.user["user_id"]
    assert DEMO_PASSWORD  # the demo accounts' password is the tests' one


def test_partnerships_listed_and_renamed_by_their_own_admin_or_the_operator(site):
    admin = site.client("esx.admin")
    assert [p["id"] for p in admin.get("/api/v1/admin/partnerships").json()] == ["east-sussex"]
    site.services.accounts.add_user("wsx.admin", NEW_PASSWORD, "west-sussex", ["admin"])
    wsx = Client(site.url, "wsx.admin", password=NEW_PASSWORD)
    url = site.url + "/api/v1/admin/partnerships/"
    original = site.store.get("partnerships", "east-sussex").data
    before = site.store.last_seq()
    # another partnership's admin, an unknown partnership, a role that is not admin: refused
    assert_problem(wsx.http.patch(url + "east-sussex", headers=wsx.headers(), json={"name": "Taken over"}),
                   404, "partnership-not-found")
    assert_problem(admin.http.patch(url + "kent", headers=admin.headers(), json={"name": "Kent"}), 404)
    business = site.client("esx.business")
    assert_problem(business.http.patch(url + "east-sussex", headers=business.headers(), json={"name": "X"}),
                   403, "forbidden-role")
    # bad input: problem+json naming the field
    for body, path in [({"name": ""}, "/name"), ({"name": "   "}, "/name"), ({"name": 7}, "/name"),
                       ({}, "/name"), ({"name": "x" * 201}, "/name"),
                       ({"name": "Fine", "reference_prefix": "ZZ"}, "/reference_prefix")]:
        r = admin.http.patch(url + "east-sussex", headers=admin.headers(), json=body)
        assert {e["path"] for e in assert_problem(r, 422)["errors"]} == {path}, (body, r.text)
    assert_problem(admin.http.patch(url + "east-sussex", headers=admin.headers(), json=["name"]), 422)
    assert site.store.last_seq() == before
    assert site.store.get("partnerships", "east-sussex").data == original
    # the partnership's own admin renames it; the id and reference prefix stay
    r = admin.http.patch(url + "east-sussex", headers=admin.headers(), json={"name": "East Sussex SCP"})
    assert r.status_code == 200 and r.json() == {"changed": True, "partnership": {
        **original, "name": "East Sussex SCP"}}, r.text
    assert admin.get("/api/v1/admin/partnerships").json()[0]["name"] == "East Sussex SCP"
    after = site.store.last_seq()
    r = admin.http.patch(url + "east-sussex", headers=admin.headers(), json={"name": "East Sussex SCP"})
    assert r.status_code == 200 and r.json()["changed"] is False and site.store.last_seq() == after
    updates = _audit(site, "partnership.update")
    assert [(e["partnership_id"], e["by"]["user_id"]) for e in updates] == [("east-sussex", admin.user["user_id"])]
    # the operator (the caseflow command, from this machine) lists and renames any partnership
    operator = {"X-Caseflow-Operator": site.services.extra["operator_secret"]}
    listed = requests.get(url.rstrip("/"), headers=operator).json()
    assert {p["id"] for p in listed} >= {"east-sussex", "west-sussex", "brighton-hove"}
    r = requests.patch(url + "west-sussex", headers=operator, json={"name": "West Sussex SCP"})
    assert r.status_code == 200 and r.json()["partnership"]["name"] == "West Sussex SCP", r.text
    assert_problem(requests.patch(url + "kent", headers=operator, json={"name": "Kent"}), 404)
    assert _audit(site, "partnership.update")[-1]["by"]["user_id"] == "operator"


def test_a_sync_push_never_carries_an_admin_change(site):
    """Administration is online-only (ADR 0020): an ``admin.*`` kind in a push is refused as a whole,
    naming the field, and nothing of the batch is written."""
    admin = site.client("esx.admin")
    before = site.store.last_seq()
    mutations = [
        {"mutation_id": "0f8c1c1e-admin-push-0001", "seq": 1, "kind": "admin.create_user", "case_id": None,
         "base_version": None, "payload": {"username": "esx.pushed", "roles": ["admin"], "password_hash": "x"}},
        {"mutation_id": "0f8c1c1e-admin-push-0002", "seq": 2, "kind": "admin.update_partnership",
         "case_id": None, "base_version": None, "payload": {"partnership_id": "east-sussex", "name": "Pushed"}},
        {"mutation_id": "0f8c1c1e-admin-push-0003", "seq": 3, "kind": "create_case",
         "case_id": "0f8c1c1e-0000-4000-8000-000000000003", "base_version": None,
         "payload": create_payload()}]
    r = admin.post("/api/v1/sync/push", json={"device_id": admin.device_id, "mutations": mutations})
    problem = assert_problem(r, 422, "validation-error")
    assert {e["path"] for e in problem["errors"]} == {"/mutations/0/kind", "/mutations/1/kind"}
    assert site.store.last_seq() == before
    assert not [u for u in admin.get("/api/v1/admin/users").json()["users"] if u["username"] == "esx.pushed"]
    assert site.store.get("partnerships", "east-sussex").data["name"] != "Pushed"


def test_blank_names_are_refused_and_an_unknown_agency_is_not_found(site):
    """A name of spaces would show as nothing in pickers and audit trails: refused like an empty one."""
    admin = site.client("esx.admin")
    uid = admin.get("/api/v1/admin/users", params={"username": "esx.crg"}).json()["users"][0]["user_id"]
    before = site.store.last_seq()
    for method, path, body, field in [
            ("PATCH", "/api/v1/admin/agencies/esx-schools", {"name": "   "}, "/name"),
            ("POST", "/api/v1/admin/agencies", {"agency_id": "esx-blank", "sector": "other", "name": "\t"}, "/name"),
            ("PATCH", f"/api/v1/admin/users/{uid}", {"display_name": "  "}, "/display_name"),
            ("POST", "/api/v1/admin/users", {"username": "esx.blank", "password": NEW_PASSWORD,
                                             "roles": ["crg_member"], "display_name": " "}, "/display_name")]:
        r = admin.http.request(method, site.url + path, headers=admin.headers(), json=body)
        assert {e["path"] for e in assert_problem(r, 422)["errors"]} == {field}, (path, r.text)
    # the operator naming an agency that does not exist: not found (it used to ask for a partnership)
    operator = {"X-Caseflow-Operator": site.services.extra["operator_secret"]}
    r = requests.patch(site.url + "/api/v1/admin/agencies/no-such-agency", headers=operator, json={"name": "X"})
    assert_problem(r, 404, "agency-not-found")
    assert site.store.last_seq() == before
    # a name with spaces around it is a name
    r = admin.http.patch(site.url + f"/api/v1/admin/users/{uid}", headers=admin.headers(),
                         json={"display_name": " Dana Reid"})
    assert r.status_code == 200, r.text
