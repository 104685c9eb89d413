"""Tasks in the app (ADR 0022, issue #13 item 2): a crg member records, offline, the task that blocks
an event ("Record first: …"); back online the `record_task` mutation is applied on the server and the
event is open on screen. The case is a cross-boundary serious incident whose SIN decision says do not
notify: the lead partnership must be confirmed before `decide_not_to_notify` (1.1.14, 1.1.41)."""

from __future__ import annotations

import datetime as dt

from tests.app import world
from tests.app.conftest import assert_targets, login, new_page, screen
from tests.support import DEMO_PASSWORD, Client

TASK = "Lead partnership confirmed (where the child normally lives)"
EVENT = "Record that no notification to the National Panel is made"


def cross_boundary_not_notified(url: str) -> str:
    """A cross-boundary referral put to the CRG, whose final SIN decision says do not notify."""
    today = dt.date.today().isoformat()
    referral = world.example("crg_referral")
    referral.update({"involved_agencies": world.INVOLVED, "referral_date": today, "incident_date": today,
                     "la_aware_date": today,
                     "other_areas_involved": {"local_authorities": ["Brighton & Hove City Council"]}})
    referral["referrer"]["agency_id"] = "esx-schools"
    r = Client(url, "esx.school-dsl").post("/api/v1/cases", json={"case_type": "serious_incident", "referral": {
        "form_id": "crg_referral", "form_version": world.FORMS.latest("crg_referral").version, "data": referral}})
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    world.fire(Client(url, "esx.business"), case_id, "put_to_crg", "referred")
    sin = world.example("sin_decision")
    sin.pop("notified_on", None)
    sin.update({"decision_date": today, "decision": "do_not_notify", "child_status": "none",
                "alternative_action": "single_agency_review",
                "alternative_action_reason": "Learning is confined to one agency."})
    world.save(Client(url, "esx.crg"), case_id, "sin_decision", sin)
    return case_id


def test_a_task_recorded_offline_unblocks_the_event_once_applied(server, browser):
    case_id = cross_boundary_not_notified(server.url)
    ref = world.reference(server.url, case_id)
    context, page = new_page(browser)
    login(page, server.url, "esx.crg")
    page.goto(f"{server.url}/app/#/case/{case_id}")
    page.get_by_role("heading", name=ref, exact=True).wait_for()
    blocked = page.locator("ul.blocked").filter(has_text=EVENT)
    blocked.get_by_text(f"Record first: {TASK} (1.1.14, 1.1.41, seed 004).").wait_for()
    tasks = page.get_by_role("region", name="Tasks")
    row = tasks.get_by_role("listitem").filter(has=page.get_by_role("heading", name=TASK))
    assert "Not done" in row.inner_text() and "Who may record it: Business team, Crg member" in row.inner_text()
    # the tasks of other steps are folded away, each still listed with who may record it
    later = tasks.locator("details")
    assert not later.get_by_role("heading", name="Steering Group/Board approved the final report").is_visible()
    later.get_by_text("Tasks of other steps, not recorded").click()
    later.get_by_role("heading", name="Steering Group/Board approved the final report").wait_for()
    later.get_by_text("Tasks of other steps, not recorded").click()

    context.set_offline(True)
    form = row.get_by_role("group", name=f"Record: {TASK}")
    form.get_by_role("button", name=f"Record: {TASK}").click()  # nothing given: told what is missing, nothing queued
    form.get_by_role("alert").get_by_text("Enter the date").wait_for()
    assert form.get_by_role("alert").get_by_text("Choose one of the options").count() == 1
    form.get_by_label("Date").fill(dt.date.today().isoformat())
    form.get_by_role("radiogroup", name="Choice").get_by_role("radio", name="Child normally resident here").check()
    form.get_by_label("Note (optional)").fill("The child lives with her mother in East Sussex.")
    form.get_by_role("button", name=f"Record: {TASK}").click()
    row.get_by_text("Waiting to send").wait_for()
    page.get_by_role("status").get_by_text("when you are back online").wait_for()
    screen(page, "case-tasks")
    assert_targets(page, "the case's tasks")

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.get_by_role("region", name="What you can do").get_by_role("button", name=EVENT).wait_for()
    assert page.locator("ul.blocked").filter(has_text="Record first").count() == 0
    row.get_by_text("Done", exact=True).wait_for()
    assert "Recorded by you on" in row.inner_text() and "Child normally resident here" in row.inner_text()

    view = Client(server.url, "esx.business").get(f"/api/v1/cases/{case_id}").json()
    task = next(t for t in view["tasks"] if t["task"] == "lead_partnership_confirmed")
    assert task["done"] and task["recorded"]["choice"] == "child_normally_resident_here"
    assert task["recorded"]["state"] == "sin_consideration" and "decide_not_to_notify" not in {
        b["event"] for b in view["blocked_events"]}
    context.close()

    # the referring school sees the task, done, with who recorded it, but no form: its role may not record it
    context, page = new_page(browser)
    page.goto(server.url + "/app/")  # online only: no need to wait for the service worker (conftest.login)
    page.get_by_label("Username").fill("esx.school-dsl")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="My cases").wait_for()
    page.goto(f"{server.url}/app/#/case/{case_id}")
    row = page.get_by_role("region", name="Tasks").get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=TASK))
    row.get_by_text("Done", exact=True).wait_for()
    assert "Recorded by a colleague on" in row.inner_text()
    assert page.get_by_role("button", name=f"Record: {TASK}").count() == 0
    context.close()
