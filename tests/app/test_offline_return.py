"""Scenario 1 of issue #11: a practitioner fills the rapid-review agency return offline, with a
three-row chronology; the draft survives closing the page; saved final offline, it reaches the
server exactly once when the network returns. Screens are photographed and checked with axe."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from statemachines.calendar import working_days_between
from tests.app import world
from tests.app.conftest import PHONE, TABLET, assert_accessible, assert_targets, login, new_page, screen, wait_until
from tests.app.idb import OPEN, OPEN_VERSION_1
from tests.support import Client

ROWS = [("2026-11-02", "Home visit", "Health visitor saw the baby at home"),
        ("2026-11-09", "Health appointment", "Missed appointment followed up"),
        ("2026-11-20", "Telephone or video", "Call with the school nurse")]


def test_agency_return_offline_with_a_draft_then_exactly_once(server, browser):
    case_id = world.open_case(server.url)
    world.to_rapid_review(server.url, case_id)
    ref = world.reference(server.url, case_id)
    context, page = new_page(browser, TABLET)
    login(page, server.url, "esx.health-visitor", photograph=True)
    screen(page, "case-list")

    context.set_offline(True)
    page.reload()
    page.get_by_role("link", name=ref).click()
    page.get_by_role("heading", name="Deadlines").wait_for()
    assert page.locator("dd.state").inner_text() == "Rapid review"
    screen(page, "case-view")
    page.get_by_role("link", name="Rapid review: agency information return").click()
    page.get_by_role("heading", name="Chronology").first.wait_for()

    # before sending, the browser checks the served schema: plain English on each field, nothing queued
    page.get_by_role("button", name="Save final").click()
    page.get_by_role("alert").filter(has_text="The form has problems").wait_for()
    assert page.get_by_text("This field is required").count() >= 5
    screen(page, "form-errors")

    page.get_by_label("Agency name").fill("University Hospitals Sussex")
    page.get_by_label("Name", exact=True).fill("A. Practitioner")
    page.get_by_label("Role", exact=True).fill("Health visitor")
    page.get_by_label("Email").fill("hv@example.org")
    page.get_by_label("Date of birth").fill("2025-06-01")
    page.get_by_label("Ethnic group (ONS 2021)").select_option(label="Not known (not yet recorded)")
    page.get_by_label("Was the child or family known to the agency?").check()
    page.get_by_label("Summary of the agency's involvement").fill("Universal health visiting.")
    for i, (day, kind, what) in enumerate(ROWS):
        page.get_by_role("button", name="Add a row").click()
        row = page.locator(f"[id='root_chronology_{i}']")
        row.get_by_label("Date", exact=True).fill(day)
        row.get_by_label("Type of contact").select_option(label=kind)
        row.get_by_label("What happened").fill(what)
    # an if/then field appears only when it becomes needed
    assert page.get_by_label("Domestic abuse: what your agency knows").count() == 0
    # a radio group's accessible name is its schema title (aria-labelledby on the group)
    abuse = page.get_by_role("radiogroup", name="Is domestic abuse known to your agency, current or historic?")
    abuse.get_by_role("radio", name="Yes").check()
    page.get_by_label("Domestic abuse: what your agency knows").wait_for()
    abuse.get_by_role("radio", name="No", exact=True).check()
    assert page.get_by_role("radiogroup", name="Sex (as your agency records it)").get_by_role("radio").count() == 4
    page.get_by_label("Analysis of practice").fill("Contacts were as expected.")
    page.get_by_label("Good practice").fill("Follow-up of a missed appointment.")
    page.get_by_label("Learning for the agency and the partnership").fill("None yet.")
    page.get_by_label("Immediate actions taken").fill("None.")
    screen(page, "form")
    assert_targets(page, "the form")

    # the draft on the device gets a fourth row: a copy of the first (the same row_id), dated in the future
    later = (dt.date.today() + dt.timedelta(days=2)).isoformat()  # in the future in any time zone
    page.evaluate(COPY_FIRST_ROW, [case_id, later])

    # close the page; reopen the app offline: the draft is there
    page.close()
    page = context.new_page()
    page.goto(server.url + f"/app/#/case/{case_id}/form/rapid_review_agency_return")
    page.get_by_text("Your draft on this device has been restored.").wait_for()
    assert page.locator("[id='root_chronology_2']").get_by_label("What happened").input_value() == ROWS[2][2]
    assert page.get_by_label("Agency name").input_value() == "University Hospitals Sussex"

    # x-not-future and x-unique-keys are checked in the browser, in plain English, on the row's fields
    page.get_by_role("button", name="Save final").click()
    page.get_by_role("alert").filter(has_text="The form has problems").wait_for()
    copy = page.locator("[id='root_chronology_3']")
    expect(copy.get_by_label("Date", exact=True)).to_have_accessible_description(
        re.compile("Enter a date that is not in the future"))
    expect(copy.get_by_text("This row is recorded twice")).to_be_visible()
    # each row's Remove button has its own accessible name: the row and the list it belongs to
    remove = page.get_by_role("button", name="Remove row 4 of Chronology of contacts", exact=True)
    assert remove.get_attribute("id") == "root_chronology_3__remove"
    assert page.get_by_role("button", name="Remove row 1 of Chronology of contacts", exact=True).count() == 1
    remove.click()  # removing a row
    expect(page.locator("[id='root_chronology_3']")).to_have_count(0)
    expect(page.get_by_text("This row is recorded twice")).to_have_count(0)
    assert page.locator("[id='root_chronology_2']").get_by_label("What happened").input_value() == ROWS[2][2]

    page.get_by_role("button", name="Save final").click()
    page.get_by_role("heading", name="Deadlines").wait_for()  # back on the case, still offline
    page.get_by_text("Waiting to send").first.wait_for()
    page.goto(server.url + "/app/#/outbox")
    page.get_by_role("heading", name="Changes on this device").wait_for()
    screen(page, "outbox")

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.get_by_text("Applied").first.wait_for(timeout=20000)

    crg = Client(server.url, "esx.crg")
    subs = [s for s in crg.get(f"/api/v1/cases/{case_id}").json()["submissions"]
            if s["form_id"] == "rapid_review_agency_return"]
    assert len(subs) == 1 and subs[0]["status"] == "final" and subs[0]["agency_id"] == "uh-sussex"
    assert [r["summary"] for r in subs[0]["data"]["chronology"]] == [r[2] for r in ROWS]
    revisions = crg.get(f"/api/v1/cases/{case_id}/submissions/{subs[0]['submission_id']}/revisions").json()
    assert [r["status"] for r in revisions["revisions"]] == ["final"]  # exactly once

    page.set_viewport_size(PHONE)  # the case with its applied return, checked at phone width too
    page.goto(server.url + f"/app/#/case/{case_id}")
    page.get_by_role("heading", name="Deadlines").wait_for()
    assert_accessible(page, "the case at 375 px")
    assert_targets(page, "the case at 375 px")
    context.close()


COPY_FIRST_ROW = """async ([caseId, day]) => {
  const db = """ + OPEN + """
  const store = () => db.transaction('drafts', 'readwrite').objectStore('drafts')
  const drafts = await new Promise((ok) => { const q = store().getAll(); q.onsuccess = () => ok(q.result) })
  const draft = drafts.find((d) => d.key.startsWith(`${caseId}|rapid_review_agency_return|`))
  draft.data.chronology.push({ ...draft.data.chronology[0], date: day, summary: 'A copy of the first row' })
  await new Promise((ok) => { const q = store().put(draft); q.onsuccess = ok })
  db.close()
}"""


DEVICE_ID = """async () => {
  const db = """ + OPEN + """
  const id = await new Promise((ok) => { const q = db.transaction('meta').objectStore('meta').get('device_id');
                                           q.onsuccess = () => ok(q.result) })
  db.close()
  return id
}"""


FORGE = """async () => {
  const db = """ + OPEN + """
  const tx = db.transaction(['meta', 'cases'], 'readwrite')
  tx.objectStore('meta').put('forged.cursor', 'cursor')
  tx.objectStore('cases').put({ id: 'ghost', version: 1, data: { case_id: 'ghost', reference: 'GHOST-0001',
    case_type: 'serious_incident', state: 'referred', deadlines: [] } })
  await new Promise((ok) => { tx.oncomplete = ok })
  db.close()
}"""


LOOKUPS = """async () => {
  const db = """ + OPEN + """
  const keys = (s) => new Promise((ok) => { const q = db.transaction(s).objectStore(s).getAllKeys();
                                            q.onsuccess = () => ok(q.result) })
  const out = [await keys('agencies'), await keys('users')]
  db.close()
  return out
}"""


# A device of the schema before the look-ups (IndexedDB version 1): logged in, fully pulled.
VERSION_1 = """async ([meta]) => {
  const db = """ + OPEN_VERSION_1 + """
  const tx = db.transaction('meta', 'readwrite')
  for (const [k, v] of Object.entries(meta)) tx.objectStore('meta').put(v, k)
  await new Promise((ok) => { tx.oncomplete = ok })
  db.close()
}"""


def test_a_version_1_device_gets_the_lookups_after_the_upgrade(server, browser):
    """The schema's version 2 adds the look-up stores and pulls again from the start: a version 1
    device had been sent the look-ups and dropped them, so its cursor is past them."""
    crg = Client(server.url, "esx.crg")
    _, cursor = crg.pull_all()
    context, page = new_page(browser, TABLET)
    page.goto(server.url + "/healthz")  # the app's origin, before the app opens its database
    page.evaluate(VERSION_1, [{"device_id": crg.device_id, "access_token": crg.access,
                               "refresh_token": crg.refresh, "user": crg.user, "username": "esx.crg",
                               "cursor": cursor}])
    page.goto(server.url + "/app/")
    page.get_by_role("heading", name="My cases").wait_for()
    # the app's automatic sync runs after the screen shows
    wait_until(page, f"async () => (await ({LOOKUPS})())[1].length > 0")
    agencies, users = page.evaluate(LOOKUPS)
    assert "uh-sussex" in agencies and crg.user["user_id"] in users
    version = page.evaluate("async () => (await indexedDB.databases()).find(d => d.name === 'caseflow').version")
    assert version == 3  # the app's current schema (3 added the stale views: tests/app/test_many_cases.py)
    context.close()


def test_cursor_reset_resyncs_and_a_revoked_device_wipes_its_data_and_says_why(server, browser):
    case_id = world.open_case(server.url)
    context, page = new_page(browser, TABLET)
    login(page, server.url, "esx.business")
    ref = world.reference(server.url, case_id)
    page.get_by_role("link", name=ref).wait_for()
    page.get_by_label("Search by reference").fill(ref)  # my cases: search by reference
    assert page.locator(".case-list li").count() == 1
    page.get_by_label("Deadlines").select_option(label="Overdue")
    assert page.locator(".case-list li").count() == 0  # the SIN clock started today
    # each open deadline carries its working days left (England), shown beside the due date
    for d in Client(server.url, "esx.business").get(f"/api/v1/cases/{case_id}").json()["deadlines"]:
        if d["status"] in ("pending", "due_soon", "overdue"):
            assert d["working_days_left"] == working_days_between(dt.date.today(), dt.date.fromisoformat(d["due"]))
    # 410 cursor-reset (a cursor this server never issued): the replica is emptied and pulled again
    page.evaluate(FORGE)
    page.reload()
    page.get_by_role("link", name="GHOST-0001").wait_for()
    page.get_by_role("button", name="Sync now").click()
    page.get_by_role("link", name="GHOST-0001").wait_for(state="detached")
    page.get_by_role("link", name=ref).wait_for()
    # the pickers' look-ups came with the pull and stay on the device for offline use
    agencies, users = page.evaluate(LOOKUPS)
    assert "esx-schools" in agencies and "wsx-schools" not in agencies
    assert Client(server.url, "esx.crg").user["user_id"] in users

    device_id = page.evaluate(DEVICE_ID)
    r = Client(server.url, "esx.admin").post(f"/api/v1/devices/{device_id}/revoke")
    assert r.status_code in (200, 204), r.text
    page.get_by_role("button", name="Sync now").click()
    page.get_by_role("alert").filter(has_text="access was withdrawn").wait_for()
    page.get_by_label("Username").wait_for()
    names = page.evaluate("async () => (await indexedDB.databases()).map(d => d.name)")
    assert "caseflow" not in names or page.evaluate(DEVICE_ID) is None  # everything on the device is gone
    context.close()
