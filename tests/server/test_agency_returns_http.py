"""GET /cases/{id}/agency-returns and POST .../agency-returns/{agency_id}/amendment-requests over
real HTTP: the app in this process on a loopback port with a pinned clock (stepped past the
rapid-review due date), real logins, the real store, offline pushes and pulls."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import uuid

import pytest

from forms.registry import FormRegistry
from server.logs import JsonFormatter
from tests.support import Client, InProcessApp, assert_problem

FORMS = FormRegistry.load_default()
TODAY = dt.date(2026, 3, 2)  # a Monday; the rapid review is due 15 working days after the SIN
CHILD_NAME, MOTHER = "Ottoline Sentinel-Quarry", "Marigold Sentinel-Quarry"
REASONS = f"Please add the home visit of 2025-01-20 and {MOTHER}'s details."
THREE = ["esx-schools", "uh-sussex", "sussex-police"]
DSL = {"esx-schools": "esx.school-dsl", "uh-sussex": "esx.health-dsl", "sussex-police": "esx.police-dsl"}


@pytest.fixture
def app(tmp_path):
    a = InProcessApp(tmp_path / "data", TODAY, public_url="https://caseflow.example")
    yield a
    a.close()


def _example(form_id: str) -> dict:
    return copy.deepcopy(FORMS.latest(form_id).examples["valid"][0])


def _fire(client: Client, case_id: str, event: str, state: str) -> dict:
    r = client.post(f"/api/v1/cases/{case_id}/transitions", json={"event": event, "expected_state": state})
    assert r.status_code == 200, r.text
    return r.json()


def _save(client: Client, case_id: str, form_id: str, data: dict, status: str = "final", **extra) -> dict:
    r = client.post(f"/api/v1/cases/{case_id}/submissions", json={
        "form_id": form_id, "form_version": FORMS.latest(form_id).version, "data": data, "status": status, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def _open_case(app: InProcessApp) -> str:
    referral = _example("crg_referral")
    referral["involved_agencies"] = THREE
    referral["child"]["name"] = CHILD_NAME
    referral["child"]["ethnicity"] = "white_british"
    referral["referrer"]["agency_id"] = "esx-schools"
    referral["referral_date"] = referral["incident_date"] = referral["la_aware_date"] = TODAY.isoformat()
    r = app.client("esx.school-dsl").post("/api/v1/cases", json={"case_type": "serious_incident", "referral": {
        "form_id": "crg_referral", "form_version": FORMS.latest("crg_referral").version, "data": referral}})
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    _fire(app.client("esx.business"), case_id, "put_to_crg", "referred")
    return case_id


def _to_rapid_review(app: InProcessApp, case_id: str) -> None:
    sin = _example("sin_decision")
    sin["decision_date"] = sin["notified_on"] = TODAY.isoformat()
    _save(app.client("esx.hos"), case_id, "sin_decision", sin)
    _fire(app.client("esx.hos"), case_id, "notify_panel", "sin_consideration")


def _return(agency: str, dob: str, ethnicity: str, family: list[tuple[str, str]],
            chronology: list[tuple[str, str]]) -> dict:
    data = _example("rapid_review_agency_return")
    data["agency_id"], data["agency_name"] = agency, agency
    data["child"].update({"name": CHILD_NAME, "date_of_birth": dob, "ethnicity": ethnicity})
    member = data["family_members"][1]
    data["family_members"] = [{**member, "row_id": f"f{i}", "name": n, "relationship": rel}
                              for i, (n, rel) in enumerate(family)]
    data["chronology"] = [{"row_id": rid, "date": day, "contact_type": "home_visit", "summary": f"{agency}: {rid}"}
                          for rid, day in chronology]
    return data


RETURNS = {  # three agencies that disagree about the DOB, the ethnicity and the family; overlapping dates
    "esx-schools": _return("esx-schools", "2023-04-02", "white_british",
                           [(MOTHER, "Mother"), ("Adult C", "Father")], [("s1", "2025-01-14"), ("s2", "2025-02-03")]),
    "uh-sussex": _return("uh-sussex", "2023-04-02", "white_irish",
                         [(MOTHER.upper(), "Mum"), ("Adult C", "Father")],
                         [("h1", "2025-01-14"), ("h2", "2024-12-01")]),
    "sussex-police": _return("sussex-police", "2023-02-04", "white_british",
                             [(MOTHER, "Stepmother"), ("Adult D", "Partner")], [("p1", "2025-02-03")]),
}


def _amend(client: Client, case_id: str, agency: str, reasons=REASONS, **extra):
    return client.post(f"/api/v1/cases/{case_id}/agency-returns/{agency}/amendment-requests",
                       json={"reasons": reasons, **extra})


def test_three_disagreeing_agencies_one_overdue_a_send_back_seen_through_pull_and_cleared(app, caplog):
    caplog.set_level(logging.DEBUG)
    crg, business = app.client("esx.crg"), app.client("esx.business")
    case_id = _open_case(app)
    # before the rapid review the returns cannot be sent back (wrong state)
    body = assert_problem(_amend(crg, case_id, "esx-schools"), 409, "rapid-review-closed")
    assert REASONS not in json.dumps(body)
    _to_rapid_review(app, case_id)
    view = crg.get(f"/api/v1/cases/{case_id}/agency-returns").json()
    assert [(a["agency_id"], a["status"], a["overdue"]) for a in view["agencies"]] == [
        (a, "requested", False) for a in THREE]
    assert view["requested_on"] == TODAY.isoformat() and view["scope"] == "all"
    due = dt.date.fromisoformat(view["rapid_review_clock"]["due"])
    assert due == dt.date(2026, 3, 23)  # 15 working days after Monday 2 March 2026

    _save(app.client("esx.school-dsl"), case_id, "rapid_review_agency_return", RETURNS["esx-schools"])
    _save(app.client("esx.health-dsl"), case_id, "rapid_review_agency_return", RETURNS["uh-sussex"])
    police_draft = _save(app.client("esx.police-dsl"), case_id, "rapid_review_agency_return",
                         RETURNS["sussex-police"], status="draft")
    assert_problem(_amend(crg, case_id, "sussex-police"), 409, "return-not-final")  # only a draft so far

    app.on(due + dt.timedelta(days=1))
    view = crg.get(f"/api/v1/cases/{case_id}/agency-returns").json()
    lines = {a["agency_id"]: a for a in view["agencies"]}
    assert view["rapid_review_clock"]["status"] == "overdue"
    assert (lines["sussex-police"]["status"], lines["sussex-police"]["overdue"]) == ("draft", True)
    assert not lines["esx-schools"]["overdue"] and lines["esx-schools"]["status"] == "returned"
    assert view["summary"]["overdue"] == ["sussex-police"]
    school_dsl_id = app.client("esx.school-dsl").user["user_id"]
    assert lines["esx-schools"]["returned_by"] == school_dsl_id
    assert lines["esx-schools"]["form_version"] == FORMS.latest("rapid_review_agency_return").version

    _save(app.client("esx.police-dsl"), case_id, "rapid_review_agency_return", RETURNS["sussex-police"],
          base_version=police_draft["version"])
    view = crg.get(f"/api/v1/cases/{case_id}/agency-returns").json()
    assert [a["status"] for a in view["agencies"]] == ["returned"] * 3 and view["summary"]["overdue"] == []
    assert [(e["date"], e["agency_id"], e["row_id"]) for e in view["chronology"]] == [
        ("2024-12-01", "uh-sussex", "h2"), ("2025-01-14", "esx-schools", "s1"), ("2025-01-14", "uh-sussex", "h1"),
        ("2025-02-03", "esx-schools", "s2"), ("2025-02-03", "sussex-police", "p1")]
    found = {d["field"]: d for d in view["disagreements"]}
    assert set(found) == {"child.date_of_birth", "child.ethnicity", "family_members"}
    assert found["child.date_of_birth"]["values"] == [
        {"value": "2023-04-02", "agencies": ["esx-schools", "uh-sussex"]},
        {"value": "2023-02-04", "agencies": ["sussex-police"]}]
    assert found["child.ethnicity"]["values"] == [
        {"value": "white_british", "agencies": ["esx-schools", "sussex-police"]},
        {"value": "white_irish", "agencies": ["uh-sussex"]}]
    assert found["child.ethnicity"]["referral_value"] == "white_british"
    family = found["family_members"]
    assert [v["agencies"] for v in family["values"]] == [["esx-schools", "uh-sussex"], ["sussex-police"]]
    members = {m["name"]: m for m in family["members"]}
    assert [r["agencies"] for r in members[MOTHER]["relationships"]] == [["esx-schools", "uh-sussex"],
                                                                         ["sussex-police"]]
    assert members["Adult D"]["not_listed_by"] == ["esx-schools", "uh-sussex"]
    assert crg.get(f"/api/v1/cases/{case_id}/agency-returns").json() == view  # stable

    # the CRG sends the police return back online, with reasons
    police = app.client("esx.police-dsl")
    before = police.get("/api/v1/sync/pull").json()["cursor"]
    r = _amend(crg, case_id, "sussex-police")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "applied" and r.json()["request_no"] == 1
    assert_problem(_amend(crg, case_id, "sussex-police"), 409, "amendment-already-requested")
    line = next(a for a in crg.get(f"/api/v1/cases/{case_id}/agency-returns").json()["agencies"]
                if a["agency_id"] == "sussex-police")
    assert line["status"] == "returned_for_amendment" and line["amendment_request"]["reasons"] == REASONS
    assert line["amendment_request"]["requested_by"] == crg.user["user_id"]
    # ... which the police's devices receive through pull: the submission and an alert
    changes = police.get("/api/v1/sync/pull", params={"cursor": before}).json()["changes"]
    sub_id = f"{case_id}.rapid_review_agency_return.sussex-police"
    (sub,) = [c for c in changes if c["entity"] == "submission" and c["id"] == sub_id]
    assert sub["data"]["status"] == "returned_for_amendment"
    assert sub["data"]["amendment_requested"]["reasons"] == REASONS
    (alert,) = [c["data"] for c in changes if c["entity"] == "alert"]
    assert alert["kind"] == "amendment_requested" and alert["agency_id"] == "sussex-police"
    assert police.user["user_id"] in alert["recipients"]
    assert REASONS not in json.dumps(alert) and MOTHER not in json.dumps(alert)
    # other agencies see neither the police return nor the alert
    school_changes = app.client("esx.school-dsl").pull_all()[0]
    assert not any(c["id"] == sub_id for c in school_changes)  # not even a tombstone: its id names the agency
    assert not any(c["entity"] == "alert" and c["data"]["kind"] == "amendment_requested" for c in school_changes)
    assert REASONS not in json.dumps(school_changes)
    # the police see their own line, reasons included, and nothing of the other agencies
    mine = police.get(f"/api/v1/cases/{case_id}/agency-returns")
    assert mine.status_code == 200, mine.text
    mine = mine.json()
    assert mine["scope"] == "own_agency" and [a["agency_id"] for a in mine["agencies"]] == ["sussex-police"]
    assert mine["agencies"][0]["amendment_request"]["reasons"] == REASONS
    assert mine["disagreements"] == [] and {e["agency_id"] for e in mine["chronology"]} == {"sussex-police"}
    assert "2023-04-02" not in json.dumps(mine) and "uh-sussex" not in json.dumps(mine)
    # the return no longer counts as received: the analysis cannot start yet
    case = business.get(f"/api/v1/cases/{case_id}").json()
    assert "start_analysis" not in case["allowed_events"]

    # the police re-submit a final from the version they pulled: the request is cleared
    amended = copy.deepcopy(RETURNS["sussex-police"])
    amended["chronology"].append({"row_id": "p2", "date": "2025-01-20", "contact_type": "home_visit",
                                  "summary": "sussex-police: p2"})
    _save(police, case_id, "rapid_review_agency_return", amended, base_version=sub["version"])
    view = crg.get(f"/api/v1/cases/{case_id}/agency-returns").json()
    line = next(a for a in view["agencies"] if a["agency_id"] == "sussex-police")
    assert line["status"] == "returned" and line["amendment_request"] is None
    assert (line["amendment_requests"], line["final_submissions"], line["revisions"]) == (1, 2, 3)
    rows = [(e["date"], e["agency_id"], e["row_id"]) for e in view["chronology"]]
    assert ("2025-01-20", "sussex-police", "p2") in rows
    pulled = police.get("/api/v1/sync/pull", params={"cursor": before}).json()["changes"]
    (sub,) = [c for c in pulled if c["entity"] == "submission" and c["id"] == sub_id]
    assert sub["data"]["status"] == "final" and sub["data"]["amendment_requested"] is None
    assert "start_analysis" in business.get(f"/api/v1/cases/{case_id}").json()["allowed_events"]

    # the audit trail has the send-back; nothing personal reached a log line
    entries = business.get(f"/api/v1/cases/{case_id}/history").json()["entries"]
    sent = [e for e in entries if e["action"] == "agency_return.amendment_requested"]
    assert len(sent) == 1 and sent[0]["by"] == crg.user["user_id"] and sent[0]["what"]["agency_id"] == "sussex-police"
    assert REASONS not in json.dumps(entries)
    lines = [JsonFormatter().format(rec) for rec in caplog.records]
    for needle in (REASONS, MOTHER, CHILD_NAME, "2023-02-04"):
        assert not any(needle in line for line in lines), needle


def test_send_back_offline_through_sync_push_exactly_once(app):
    case_id = _open_case(app)
    _to_rapid_review(app, case_id)
    _save(app.client("esx.school-dsl"), case_id, "rapid_review_agency_return", RETURNS["esx-schools"])
    business = app.client("esx.business")
    m = {"mutation_id": str(uuid.uuid4()), "seq": 1, "kind": "request_amendment", "case_id": case_id,
         "payload": {"agency_id": "esx-schools", "reasons": REASONS}}
    push = {"device_id": business.device_id, "mutations": [m]}
    (first,) = business.post("/api/v1/sync/push", json=push).json()["results"]
    assert first["status"] == "applied", first
    (again,) = business.post("/api/v1/sync/push", json=push).json()["results"]
    assert again["status"] == "duplicate" and again["version"] == first["version"]
    m2 = {**m, "mutation_id": str(uuid.uuid4()), "seq": 2, "payload": {"agency_id": "uh-sussex", "reasons": "x"}}
    (rejected,) = business.post("/api/v1/sync/push", json={**push, "mutations": [m2]}).json()["results"]
    assert rejected["status"] == "rejected" and rejected["problem"]["type"].endswith("/return-not-final")
    view = business.get(f"/api/v1/cases/{case_id}/agency-returns").json()
    line = next(a for a in view["agencies"] if a["agency_id"] == "esx-schools")
    assert line["status"] == "returned_for_amendment" and line["amendment_requests"] == 1
    history = business.get(f"/api/v1/cases/{case_id}/history").json()["entries"]
    assert sum(e["action"] == "agency_return.amendment_requested" for e in history) == 1
    # the school drafts its amendment: the request stays open until a final
    school = app.client("esx.school-dsl")
    draft = _save(school, case_id, "rapid_review_agency_return", RETURNS["esx-schools"], status="draft",
                  base_version=first["version"])
    line = next(a for a in school.get(f"/api/v1/cases/{case_id}/agency-returns").json()["agencies"])
    assert line["status"] == "returned_for_amendment" and line["amendment_request"]["reasons"] == REASONS

    def returned_alerts(client) -> list[dict]:
        alerts = [c["data"] for c in client.pull_all()[0] if c["entity"] == "alert"]
        return [a for a in alerts if a["kind"] == "amendment_returned" and a["case_id"] == case_id]

    assert returned_alerts(business) == []  # a draft is not the amended return
    _save(school, case_id, "rapid_review_agency_return", RETURNS["esx-schools"], base_version=draft["version"])
    line = next(a for a in school.get(f"/api/v1/cases/{case_id}/agency-returns").json()["agencies"])
    assert line["status"] == "returned" and line["amendment_request"] is None
    # whoever sent it back is told it is in (ids only), and nobody else is
    (alert,) = returned_alerts(business)
    assert alert["recipients"] == [business.user["user_id"]] and alert["agency_id"] == "esx-schools"
    assert REASONS not in json.dumps(alert)
    assert returned_alerts(app.client("esx.crg")) == []


def test_refusals_are_problem_details(app):
    case_id = _open_case(app)
    _to_rapid_review(app, case_id)
    _save(app.client("esx.school-dsl"), case_id, "rapid_review_agency_return", RETURNS["esx-schools"])
    crg = app.client("esx.crg")
    url = f"/api/v1/cases/{case_id}/agency-returns"
    # wrong role: an agency, a statutory lead, the scrutineer may read but not send back
    for username in ("esx.school-dsl", "esx.la-lead", "esx.scrutineer"):
        body = assert_problem(_amend(app.client(username), case_id, "esx-schools"), 403, "forbidden-role")
        assert REASONS not in json.dumps(body)
    # another partnership and an unassigned reviewer: the case does not exist for them
    for username in ("wsx.business", "esx.reviewer"):
        assert_problem(_amend(app.client(username), case_id, "esx-schools"), 404, "case-not-found")
        assert_problem(app.client(username).get(url), 404, "case-not-found")
    assert_problem(crg.get(f"/api/v1/cases/{uuid.uuid4()}/agency-returns"), 404, "case-not-found")
    # unknown agency, not yet returned, bad input
    assert_problem(_amend(crg, case_id, "esx-childrens-services"), 404, "agency-not-involved")
    assert_problem(_amend(crg, case_id, "no-such-agency"), 404, "agency-not-involved")
    assert_problem(_amend(crg, case_id, "uh-sussex"), 409, "return-not-final")
    body = assert_problem(_amend(crg, case_id, "esx-schools", reasons=""), 422, "validation-error")
    assert [e["path"] for e in body["errors"]] == ["/reasons"]
    body = assert_problem(crg.post(f"{url}/esx-schools/amendment-requests", json={"reason": 5}), 422)
    assert {e["path"] for e in body["errors"]} >= {"/reasons"}
    body = assert_problem(_amend(crg, case_id, "esx-schools", reasons="   "), 422, "validation-error")
    assert [e["path"] for e in body["errors"]] == ["/reasons"]  # the payload schema, at the REST door
    assert_problem(_amend(crg, case_id, "esx-schools", base_version=99), 409, "return-changed")
    # nothing of those refusals was written
    view = crg.get(url).json()
    assert all(a["amendment_requests"] == 0 for a in view["agencies"])
    # reading: the coordinating roles see everything; an invited partnership sees no agency's return
    assert app.client("esx.scrutineer").get(url).json()["scope"] == "all"
    assert app.client("esx.la-lead").get(url).json()["scope"] == "all"
    r = app.client("esx.business").post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex"})
    assert r.status_code == 200, r.text
    assert_problem(app.client("wsx.business").get(url), 403, "agency-returns-not-shared")
    # an agency with nothing returned sees its own line only
    mine = app.client("esx.health-dsl").get(url).json()
    assert [(a["agency_id"], a["status"]) for a in mine["agencies"]] == [("uh-sussex", "requested")]
