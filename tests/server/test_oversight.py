"""Oversight over loopback HTTP: the dashboard (every open clock, most urgent first), the SVG
timeline, the agency-returns tracker and the audit trail with names; who may read each."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.server.partnership_cases import CHILD, TODAY
from tests.support import assert_problem

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def site(partnership_site):
    return partnership_site


def test_dashboard_sorted_by_urgency_with_counts(site):
    body = site.client("esx.business").get("/api/v1/oversight/dashboard").json()
    assert body["today"] == TODAY.isoformat() and body["open_cases"] == 2
    first, second = body["cases"]
    assert first["case_id"] == site.cases["overdue"] and second["case_id"] == site.cases["review"]
    sin = next(c for c in first["clocks"] if c["name"] == "sin_notification")
    assert sin["status"] == "overdue" and sin["working_days_left"] == -5
    rr = next(c for c in second["clocks"] if c["name"] == "rapid_review_report")
    assert rr["status"] == "pending" and rr["working_days_left"] == 15 and rr["due"] == "2026-03-23"
    assert body["counts"]["cases_overdue"] == 1 and body["counts"]["clocks_overdue"] >= 1
    assert CHILD not in str(body)
    # another partnership sees only its own; the lead sees it; agencies and admins do not
    wsx = site.client("wsx.business").get("/api/v1/oversight/dashboard").json()
    assert [c["case_id"] for c in wsx["cases"]] == [site.cases["wsx"]]
    assert site.client("esx.la-lead").get("/api/v1/oversight/dashboard").status_code == 200
    for user in ("esx.social-worker", "esx.school-dsl", "esx.admin", "esx.reviewer"):
        assert_problem(site.client(user).get("/api/v1/oversight/dashboard"), 403, "forbidden-role")


def test_timeline_svg_has_states_and_clocks_and_no_personal_data(site):
    case_id = site.cases["review"]
    r = site.client("esx.crg").get(f"/api/v1/cases/{case_id}/timeline.svg")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(r.text)
    assert root.tag == SVG + "svg"
    states = [g.get("data-state") for g in root.iter(SVG + "g") if g.get("class") == "state"]
    assert states == ["referred", "sin_consideration", "rapid_review"]
    clocks = {g.get("data-clock"): g.get("data-status") for g in root.iter(SVG + "g") if g.get("class") == "clock"}
    assert clocks["rapid_review_report"] == "pending" and clocks["sin_notification"] == "met"
    assert CHILD not in r.text and "Sentinel" not in r.text
    data = site.client("esx.business").get(f"/api/v1/cases/{case_id}/timeline").json()
    assert [s["state"] for s in data["states"]] == states
    assert_problem(site.client("wsx.business").get(f"/api/v1/cases/{case_id}/timeline.svg"), 404)
    assert_problem(site.client("esx.school-dsl").get(f"/api/v1/cases/{case_id}/timeline.svg"), 403)


def test_agency_returns_tracker(site):
    site.on("2026-03-24")  # the day after the rapid review was due
    try:
        body = site.client("esx.business").get("/api/v1/oversight/agency-returns").json()
    finally:
        site.on(TODAY)
    case = next(c for c in body["cases"] if c["case_id"] == site.cases["review"])
    lines = {a["agency_id"]: a for a in case["agencies"]}
    assert lines["esx-schools"]["status"] == "returned" and not lines["esx-schools"]["overdue"]
    assert lines["uh-sussex"]["status"] == "returned_for_amendment" and lines["uh-sussex"]["overdue"]
    assert "health visits" in lines["uh-sussex"]["amendment_request"]["reasons"]
    assert lines["sussex-police"]["status"] == "requested" and lines["sussex-police"]["overdue"]
    assert body["totals"]["late"] == 2 and body["totals"]["sent_back"] == 1
    assert CHILD not in str(body)
    assert_problem(site.client("esx.la-lead").get("/api/v1/oversight/agency-returns"), 403)
    wsx = site.client("wsx.business").get("/api/v1/oversight/agency-returns").json()
    assert site.cases["review"] not in str(wsx)


def test_audit_trail_with_names(site):
    case_id = site.cases["review"]
    body = site.client("esx.crg").get(f"/api/v1/cases/{case_id}/audit-trail").json()
    create = next(e for e in body["entries"] if e["action"] == "case.create")
    assert create["by_name"] == "esx.school-dsl"  # demo users have no display name: their username
    assert any(e["action"] == "transition" or e["action"].startswith("case.") for e in body["entries"])
    assert_problem(site.client("esx.la-lead").get(f"/api/v1/cases/{case_id}/audit-trail"), 403)
    assert_problem(site.client("wsx.business").get(f"/api/v1/cases/{case_id}/audit-trail"), 404)
    assert_problem(site.client("esx.business").get("/api/v1/cases/not-a-case/audit-trail"), 404)


def test_dashboard_due_soon_counts(site):
    site.on("2026-03-20")  # the Friday before the rapid review report is due (Monday 23 March)
    try:
        body = site.client("esx.business").get("/api/v1/oversight/dashboard").json()
    finally:
        site.on(TODAY)
    review = next(c for c in body["cases"] if c["case_id"] == site.cases["review"])
    rr = next(c for c in review["clocks"] if c["name"] == "rapid_review_report")
    assert rr["status"] == "due_soon" and rr["working_days_left"] == 1
    assert review["due_soon"] is True and review["overdue"] is False
    soon = [c for row in body["cases"] for c in row["clocks"] if c["status"] == "due_soon"]
    assert body["counts"]["clocks_due_soon"] == len(soon) >= 1
    assert body["counts"]["cases_due_soon"] == sum(r["due_soon"] and not r["overdue"] for r in body["cases"]) == 1
    assert body["counts"]["cases_overdue"] == 1  # the overdue case counts as overdue, not as due soon
    assert body["open_cases"] == 2  # the closed case is not on the dashboard
    # on the day the case was referred nothing was due soon
    today = site.client("esx.business").get("/api/v1/oversight/dashboard").json()
    assert today["counts"]["cases_due_soon"] == 0 and today["counts"]["clocks_due_soon"] == 0


def test_audit_trail_shows_the_display_name(site):
    admin, crg = site.client("esx.admin"), site.client("esx.crg")
    crg_id = crg.user["user_id"]
    url = site.url + f"/api/v1/admin/users/{crg_id}"
    r = admin.http.patch(url, headers=admin.headers(), json={"display_name": "Dana Okonkwo-Reid"})
    assert r.status_code == 200, r.text
    try:
        body = crg.get(f"/api/v1/cases/{site.cases['review']}/audit-trail").json()
    finally:  # as it was for the other tests of the session (the name pickers show is the username)
        admin.http.patch(url, headers=admin.headers(), json={"display_name": "esx.crg"})
    by_crg = [e for e in body["entries"] if e["by"] == crg_id]
    assert by_crg and {e["by_name"] for e in by_crg} == {"Dana Okonkwo-Reid"}
    assert {e["by_name"] for e in body["entries"] if e["action"] == "case.create"} == {"esx.school-dsl"}
    # the name is in the answer to the roles allowed to read it, never in the audit chain itself
    assert "Okonkwo" not in str([e.entry for e in site.store.audit_log()])


def test_an_invited_partnership_gets_no_returns_trail_or_documents(site):
    case_id = site.cases["review"]
    business, wsx = site.client("esx.business"), site.client("wsx.business")
    r = business.post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex", "invited": True})
    assert r.status_code == 200, r.text
    try:
        assert wsx.get(f"/api/v1/cases/{case_id}").status_code == 200  # it sees the case (read-only)
        assert wsx.get(f"/api/v1/cases/{case_id}/timeline").status_code == 200
        tracker = wsx.get("/api/v1/oversight/agency-returns").json()
        assert case_id not in str(tracker) and CHILD not in str(tracker)
        assert_problem(wsx.get(f"/api/v1/cases/{case_id}/audit-trail"), 403, "trail-not-shared")
        for doc in ("rapid-review-report.docx", "rapid-review-report.pdf", "delay-notice.docx"):
            problem = assert_problem(wsx.get(f"/api/v1/cases/{case_id}/documents/{doc}"), 403, "forbidden-role")
            assert CHILD not in str(problem)
        generated = [e.entry for e in site.store.audit_log(subject=case_id)
                     if e.entry["action"] == "document.generate" and e.entry["by"]["user_id"] == wsx.user["user_id"]]
        assert generated == []
    finally:  # as it was for the other tests of the session
        r = business.post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex",
                                                                          "invited": False})
        assert r.status_code == 200, r.text
    assert_problem(wsx.get(f"/api/v1/cases/{case_id}"), 404)
