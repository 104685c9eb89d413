"""Red-team checks over real HTTP (the app in this process on a loopback port, demo users, the real
store): places where a user could learn of what they may not see. Each test here failed before its
fix; the policy is the one stated at the top of ``test_access_matrix.py``."""

from __future__ import annotations

import copy

import pytest

from tests.server.test_agency_returns_http import (
    FORMS,
    RETURNS,
    TODAY,
    _open_case,
    _save,
    _to_rapid_review,
)
from tests.support import Client, InProcessApp


@pytest.fixture
def app(tmp_path):
    a = InProcessApp(tmp_path / "data", TODAY)
    yield a
    a.close()


def _pull(client: Client, cursor: str = "") -> tuple[list[dict], str]:
    changes = []
    while True:
        r = client.get("/api/v1/sync/pull", params={"cursor": cursor, "limit": 500})
        assert r.status_code == 200, r.text
        page = r.json()
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, cursor


def _of_case(changes: list[dict], case_id: str) -> list[dict]:
    return [c for c in changes if c["entity"] != "alert" and (
        c["id"] == case_id or c["id"].startswith(case_id + ".") or c.get("data", {}).get("case_id") == case_id)]


def _schools_conflict(app: InProcessApp, case_id: str) -> tuple[str, str]:
    """The schools' final return, then two of the schools' devices amend one field from it: one
    conflict on an agency return. Returns (submission id, conflict id)."""
    first = _save(app.client("esx.school-dsl"), case_id, "rapid_review_agency_return", RETURNS["esx-schools"])
    second_device = Client(app.url, "esx.school-dsl")
    conflicts = []
    for client, text in ((app.client("esx.school-dsl"), "Amended on the laptop."), (second_device, "On the phone.")):
        data = copy.deepcopy(RETURNS["esx-schools"])
        data["involvement_summary"] = text
        r = client.post(f"/api/v1/cases/{case_id}/submissions", json={
            "form_id": "rapid_review_agency_return", "form_version": FORMS.latest("rapid_review_agency_return").version,
            "data": data, "status": "final", "base_version": first["version"]})
        assert r.status_code in (200, 409), r.text
        conflicts += r.json().get("conflicts", [])
    assert len(conflicts) == 1, conflicts
    return first["submission_id"], conflicts[0]


def test_an_uninvited_partnership_gets_no_tombstone_naming_an_agency_return(app):
    """Agency returns are never an invited partnership's to see, so losing the invitation must not
    send their ids (which name the agencies that returned) or their conflicts' ids either."""
    business, wsx = app.client("esx.business"), app.client("wsx.business")
    case_id = _open_case(app)
    _to_rapid_review(app, case_id)
    sub_id, conflict_id = _schools_conflict(app, case_id)
    r = business.post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex"})
    assert r.status_code == 200, r.text
    seen, cursor = _pull(wsx)
    assert ("case", case_id) in {(c["entity"], c["id"]) for c in seen}
    assert sub_id not in str(seen) and conflict_id not in str(seen)
    r = business.post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex", "invited": False})
    assert r.status_code == 200, r.text
    later, _ = _pull(wsx, cursor)
    gone = {(c["entity"], c["id"]) for c in later if c.get("deleted")}
    assert ("case", case_id) in gone
    assert sub_id not in str(later) and conflict_id not in str(later)
    assert "esx-schools" not in str(later)


def test_resolving_an_agency_returns_conflict_is_hidden_from_other_agencies_history(app):
    """The audit entry of a resolved conflict on an agency's return carries that agency, so the
    history endpoint hides it from other agencies and invited partnerships as it hides the save."""
    case_id = _open_case(app)
    _to_rapid_review(app, case_id)
    sub_id, conflict_id = _schools_conflict(app, case_id)
    r = app.client("esx.school-dsl").post(f"/api/v1/cases/{case_id}/conflicts",
                                          json={"conflict_id": conflict_id, "choose": "incoming"})
    assert r.status_code == 200, r.text
    r = app.client("esx.business").post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex"})
    assert r.status_code == 200, r.text
    own = app.client("esx.school-dsl").get(f"/api/v1/cases/{case_id}/history").json()["entries"]
    assert "conflict.resolve" in {e["action"] for e in own}  # the agency itself still sees its own work
    for user in ("esx.health-dsl", "wsx.business"):
        r = app.client(user).get(f"/api/v1/cases/{case_id}/history")
        assert r.status_code == 200, r.text
        assert conflict_id not in r.text and sub_id not in r.text, user
