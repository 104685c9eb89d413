"""Cases for the browser tests, made over the real HTTP API (as the other clients would)."""

from __future__ import annotations

import copy
import datetime as dt

from forms.registry import FormRegistry
from tests.support import Client

FORMS = FormRegistry.load_default()
INVOLVED = ["esx-schools", "uh-sussex", "sussex-police"]


def example(form_id: str) -> dict:
    return copy.deepcopy(FORMS.latest(form_id).examples["valid"][0])


def fire(client: Client, case_id: str, event: str, state: str) -> dict:
    r = client.post(f"/api/v1/cases/{case_id}/transitions", json={"event": event, "expected_state": state})
    assert r.status_code in (200, 202), r.text
    return r.json()


def save(client: Client, case_id: str, form_id: str, data: dict, status: str = "final") -> dict:
    r = client.post(f"/api/v1/cases/{case_id}/submissions", json={
        "form_id": form_id, "form_version": FORMS.latest(form_id).version, "data": data, "status": status})
    assert r.status_code == 200, r.text
    return r.json()


def open_case(url: str, today: dt.date | None = None) -> str:
    """A serious-incident referral from the school, put to the CRG: in sin_consideration."""
    today = today or dt.date.today()
    referral = example("crg_referral")
    referral["involved_agencies"] = INVOLVED
    referral["referrer"]["agency_id"] = "esx-schools"
    referral["referral_date"] = referral["incident_date"] = referral["la_aware_date"] = today.isoformat()
    r = Client(url, "esx.school-dsl").post("/api/v1/cases", json={"case_type": "serious_incident", "referral": {
        "form_id": "crg_referral", "form_version": FORMS.latest("crg_referral").version, "data": referral}})
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    fire(Client(url, "esx.business"), case_id, "put_to_crg", "referred")
    return case_id


def to_rapid_review(url: str, case_id: str, today: dt.date | None = None) -> None:
    today = today or dt.date.today()
    hos = Client(url, "esx.hos")
    sin = example("sin_decision")
    sin["decision_date"] = sin["notified_on"] = today.isoformat()
    save(hos, case_id, "sin_decision", sin)
    fire(hos, case_id, "notify_panel", "sin_consideration")


def reference(url: str, case_id: str) -> str:
    return Client(url, "esx.business").get(f"/api/v1/cases/{case_id}").json()["reference"]
