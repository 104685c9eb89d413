"""A small partnership with cases in the states oversight, exports and documents read: opened over
real HTTP on an in-process app whose clock the test sets.

- ``overdue``: referred 10 working days ago, SIN not yet decided: the SIN clock is overdue and the
  business team's delay notice is final;
- ``review``: in rapid review since today with three agencies: the school returned, the health
  return was sent back for amendment, the police have not returned; the CRG's rapid-review report
  is final;
- ``closed``: opened on ``OPENED_EARLIER``, not notified, closed with no further action (what the
  exports' ``opened_from``/``opened_to``/``open_only`` filters tell apart; no open view shows it);
- ``wsx``: a West Sussex case (another partnership's, never seen from East Sussex).
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from forms.registry import FormRegistry
from statemachines.calendar import subtract_working_days
from tests.support import InProcessApp

FORMS = FormRegistry.load_default()
TODAY = dt.date(2026, 3, 2)  # a Monday
OPENED_EARLIER = dt.date(2026, 2, 16)
CHILD = "Perpetua Sentinel-Oakhampton"  # personal data that must never reach a file a role may not read
THREE = ["esx-schools", "uh-sussex", "sussex-police"]


def example(form_id: str) -> dict:
    return copy.deepcopy(FORMS.latest(form_id).examples["valid"][0])


def save(client, case_id: str, form_id: str, data: dict, status: str = "final") -> dict:
    r = client.post(f"/api/v1/cases/{case_id}/submissions", json={
        "form_id": form_id, "form_version": FORMS.latest(form_id).version, "data": data, "status": status})
    assert r.status_code == 200, r.text
    return r.json()


def fire(client, case_id: str, event: str, state: str) -> None:
    r = client.post(f"/api/v1/cases/{case_id}/transitions", json={"event": event, "expected_state": state})
    assert r.status_code == 200, r.text


def open_case(app: InProcessApp, dsl: str, agencies: list[str], aware: dt.date, referrer_agency: str) -> str:
    referral = example("crg_referral")
    referral["involved_agencies"] = agencies
    referral["child"]["name"] = CHILD
    referral["referrer"]["agency_id"] = referrer_agency
    referral["referral_date"] = referral["incident_date"] = referral["la_aware_date"] = aware.isoformat()
    r = app.client(dsl).post("/api/v1/cases", json={"case_type": "serious_incident", "referral": {
        "form_id": "crg_referral", "form_version": FORMS.latest("crg_referral").version, "data": referral}})
    assert r.status_code == 201, r.text
    return r.json()["case_id"]


def build(app: InProcessApp) -> dict[str, str]:
    app.on(TODAY)
    overdue = open_case(app, "esx.school-dsl", ["esx-schools"], subtract_working_days(TODAY, 10), "esx-schools")
    fire(app.client("esx.business"), overdue, "put_to_crg", "referred")

    review = open_case(app, "esx.school-dsl", THREE, TODAY, "esx-schools")
    fire(app.client("esx.business"), review, "put_to_crg", "referred")
    sin = example("sin_decision")
    sin["decision_date"] = sin["notified_on"] = TODAY.isoformat()
    save(app.client("esx.hos"), review, "sin_decision", sin)
    fire(app.client("esx.hos"), review, "notify_panel", "sin_consideration")
    for dsl, agency in (("esx.school-dsl", "esx-schools"), ("esx.health-dsl", "uh-sussex")):
        ret = example("rapid_review_agency_return")
        ret["agency_id"] = agency
        ret["child"]["name"] = CHILD
        save(app.client(dsl), review, "rapid_review_agency_return", ret)
    r = app.client("esx.crg").post(f"/api/v1/cases/{review}/agency-returns/uh-sussex/amendment-requests",
                                   json={"reasons": "Please add the health visits of January."})
    assert r.status_code in (200, 201), r.text
    report = example("rapid_review_report")
    report["child"]["name"] = CHILD
    report["facts"] = f"{CHILD} was admitted with a fractured arm."
    report.pop("sent_to_panel_on", None)
    report.pop("lcspr_agreed_on", None)  # agreed at sign-off, not yet (rapid_review_report v3)
    report["agencies_involved"] = THREE
    save(app.client("esx.crg"), review, "rapid_review_report", report)
    notice = example("delay_notice")
    notice.update({"deadline": "sin_notification", "due_date": subtract_working_days(TODAY, 5).isoformat(),
                   "reason": "The local authority's strategy meeting was postponed.", "revised_date": "2026-03-04",
                   "panel_informed_on": TODAY.isoformat()})
    save(app.client("esx.business"), overdue, "delay_notice", notice)

    wsx = open_case(app, "wsx.school-dsl", ["wsx-schools"], TODAY, "wsx-schools")
    app.on(OPENED_EARLIER)
    try:
        closed = _closed_case(app)
    finally:
        app.on(TODAY)
    return {"overdue": overdue, "review": review, "closed": closed, "wsx": wsx}


def _closed_case(app: InProcessApp) -> str:
    """Referred, not notified to the Panel, closed with no further action, all on OPENED_EARLIER."""
    closed = open_case(app, "esx.school-dsl", ["esx-schools"], OPENED_EARLIER, "esx-schools")
    fire(app.client("esx.business"), closed, "put_to_crg", "referred")
    sin = example("sin_decision")
    sin.pop("notified_on", None)
    sin.update({"decision": "do_not_notify", "decision_date": OPENED_EARLIER.isoformat(), "child_status": "none",
                "alternative_action": "no_further_action",
                "alternative_action_reason": "The learning was taken forward by a single agency."})
    save(app.client("esx.crg"), closed, "sin_decision", sin)
    fire(app.client("esx.crg"), closed, "decide_not_to_notify", "sin_consideration")
    fire(app.client("esx.business"), closed, "close_other_action", "other_action")
    return closed


@pytest.fixture(scope="session")
def partnership_site(tmp_path_factory):
    """One app with these cases, shared by the oversight, export and document tests (read-mostly: a
    test that changes something says so and leaves the cases as they were)."""
    app = InProcessApp(tmp_path_factory.mktemp("partnership") / "data", TODAY)
    app.cases = build(app)
    yield app
    app.close()
