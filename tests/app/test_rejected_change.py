"""Issue #11, a change the server rejects: a practitioner saves her agency's rapid-review return
naming another agency. The browser cannot know that (the schema allows any agency id), the server
refuses it (403 not-your-agency, the error at /payload/data/agency_id), and the app says so: the
"Changes on this device" screen shows it rejected with the field named by its schema title, and
the form shows the server's message on that field (its accessible description). axe checks the
Changes screen with the rejected change."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.app import world
from tests.app.conftest import TABLET, assert_accessible, login, new_page
from tests.support import Client

MESSAGE = "Must be your own agency."


def test_a_rejected_save_is_named_by_field_title_in_changes_and_shown_on_the_field(server, browser):
    case_id = world.open_case(server.url)
    world.to_rapid_review(server.url, case_id)
    context, page = new_page(browser, TABLET)
    login(page, server.url, "esx.health-visitor")
    page.goto(f"{server.url}/app/#/case/{case_id}/form/rapid_review_agency_return")
    agency = page.get_by_label("Agency", exact=True)
    expect(agency).to_have_value("uh-sussex")  # the app fills in her own agency
    agency.fill("sussex-police")
    page.get_by_role("button", name="Save draft").click()

    page.goto(server.url + "/app/#/outbox")
    change = page.locator("li.card", has_text="Rapid review: agency information return (draft)")
    change.get_by_text("Rejected", exact=True).wait_for()
    expect(change.locator(".field-errors li")).to_have_text([f"Agency: {MESSAGE}"])
    assert "/payload" not in change.inner_text()
    assert_accessible(page, "a rejected change")

    page.goto(f"{server.url}/app/#/case/{case_id}/form/rapid_review_agency_return")
    page.get_by_text("Last save:").wait_for()
    expect(page.locator("p", has_text="Last save:").locator(".badge")).to_have_text("Rejected")
    agency = page.get_by_label("Agency", exact=True)
    expect(agency).to_have_value("sussex-police")  # what she typed is kept, to correct it
    expect(agency).to_have_accessible_description(re.compile(re.escape(MESSAGE)))
    subs = Client(server.url, "esx.crg").get(f"/api/v1/cases/{case_id}").json()["submissions"]
    assert not [s for s in subs if s["form_id"] == "rapid_review_agency_return"]  # nothing was written
    context.close()
