"""Losing sight of a case loses everything of it on the device: the case, its forms and every
conflict recorded on them, resolved ones included (a conflict holds two people's values)."""

from __future__ import annotations

import pytest

from tests.server.walks import latest, referral
from tests.support import InProcessApp


@pytest.fixture
def app(tmp_path):
    a = InProcessApp(tmp_path / "data")
    yield a
    a.close()


def test_an_unassigned_reviewer_loses_the_case_its_forms_and_all_its_conflicts(app):
    business, hos, reviewer = app.client("esx.business"), app.client("esx.hos"), app.client("esx.reviewer")
    version = latest("crg_referral")
    r = business.post("/api/v1/cases", json={"case_type": "serious_incident", "referral": {
        "form_id": "crg_referral", "form_version": version, "data": referral()}})
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    # two people amend the same field from the same revision: one clash, then resolved
    conflicts = []
    for client, text in ((business, "First amendment."), (hos, "Second amendment.")):
        data = {**referral(), "harm_details": text}
        r = client.post(f"/api/v1/cases/{case_id}/submissions", json={
            "form_id": "crg_referral", "form_version": version, "data": data, "status": "final", "base_version": 1})
        assert r.status_code in (200, 409), r.text
        conflicts += r.json().get("conflicts", [])
    assert len(conflicts) == 1, conflicts
    r = business.post(f"/api/v1/cases/{case_id}/conflicts", json={"conflict_id": conflicts[0], "choose": "kept"})
    assert r.status_code == 200, r.text
    r = business.post(f"/api/v1/cases/{case_id}/assignments", json={"user_id": reviewer.user["user_id"]})
    assert r.status_code == 200, r.text
    seen, cursor = reviewer.pull_all()
    # (alerts addressed to the reviewer stay theirs: ids and a reference only, no case content)
    held = {(c["entity"], c["id"]) for c in seen if c["entity"] != "alert" and (
        c["id"] == case_id or c.get("data", {}).get("case_id") == case_id)}
    assert ("conflict", conflicts[0]) in held and ("case", case_id) in held
    r = business.post(f"/api/v1/cases/{case_id}/assignments",
                      json={"user_id": reviewer.user["user_id"], "assigned": False})
    assert r.status_code == 200, r.text
    later, _ = reviewer.pull_all(cursor)
    gone = {(c["entity"], c["id"]) for c in later if c.get("deleted")}
    assert held <= gone, held - gone  # nothing of the case stays on the reviewer's device
    assert not [c for c in later if not c.get("deleted") and c["entity"] != "alert"
                and c.get("data", {}).get("case_id") == case_id]
    assert "Second amendment." not in str(later)
