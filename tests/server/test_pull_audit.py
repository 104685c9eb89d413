"""A pull hands over case records, so it is audited like ``GET /cases/{id}``: who, device, which
entities (ids only), durable before the page leaves."""

from __future__ import annotations

import json

from tests.server.walks import latest, referral
from tests.support import Client


def _create(server) -> tuple[Client, str]:
    business = Client(server.url, "esx.business")
    r = business.post("/api/v1/cases", json={"case_type": "serious_incident", "referral": {
        "form_id": "crg_referral", "form_version": latest("crg_referral"), "data": referral()}})
    assert r.status_code == 201, r.text
    return business, r.json()["case_id"]


def test_a_pull_that_delivers_a_case_is_in_its_history(server):
    business, case_id = _create(server)
    crg = Client(server.url, "esx.crg")
    before = [e for e in business.get(f"/api/v1/cases/{case_id}/history").json()["entries"]
              if e["action"] == "sync.read"]
    delivered = [c for c in crg.pull_all()[0] if c["entity"] == "case" and c["id"] == case_id]
    assert delivered, "the coordinator's pull delivers the case"
    after = [e for e in business.get(f"/api/v1/cases/{case_id}/history").json()["entries"]
             if e["action"] == "sync.read"]
    mine = [e for e in after if e not in before and e["device_id"] == crg.device_id]
    assert len(mine) == 1, mine
    assert any(x.startswith(f"case:{case_id}@") for x in mine[0]["what"]["entities"])
    assert mine[0]["by"] == crg.user["user_id"]
    assert "date_of_birth" not in json.dumps(mine[0])


def test_a_pull_that_delivers_nothing_writes_nothing(server):
    _business, case_id = _create(server)
    outsider = Client(server.url, "wsx.business")
    assert not any(c["id"] == case_id for c in outsider.pull_all()[0])
    crg = Client(server.url, "esx.crg")
    history = crg.get(f"/api/v1/cases/{case_id}/history").json()["entries"]
    assert not any(e["action"] == "sync.read" and e["device_id"] == outsider.device_id for e in history)


def test_agency_users_do_not_see_other_peoples_pulls(server):
    _business, case_id = _create(server)
    crg = Client(server.url, "esx.crg")
    assert crg.pull_all()[0]
    school = Client(server.url, "esx.school-dsl")
    history = school.get(f"/api/v1/cases/{case_id}/history")
    assert history.status_code == 200, history.text
    reads = [e for e in history.json()["entries"] if e["action"] == "sync.read"]
    assert reads == [], "a coordinator's pull lists every agency's return ids: not for agency eyes"
