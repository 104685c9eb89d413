"""Issue #12 item 4 in the app: the business team's oversight screens (every open clock, a case's
timeline and audit trail, the agency-returns tracker, an export), read online; an agency's
practitioner gets no oversight link, a statutory lead no returns tracker or audit trail."""

from __future__ import annotations

from pathlib import Path

from tests.app import world
from tests.app.conftest import TABLET, login, new_page, screen
from tests.support import Client

STATUS_TEXT = {"overdue": "Overdue", "due_soon": "Due soon", "pending": "Running", "met": "Met", "missed": "Missed"}


def test_the_business_team_sees_every_clock_a_timeline_and_an_audit_trail(server, browser):
    case_id = world.open_case(server.url)
    business = Client(server.url, "esx.business")
    row = next(c for c in business.get("/api/v1/oversight/dashboard").json()["cases"] if c["case_id"] == case_id)
    ref, clock = row["reference"], row["clocks"][0]
    trail = business.get(f"/api/v1/cases/{case_id}/audit-trail").json()["entries"]
    named = next(e["by_name"] for e in trail if e["by_name"])

    context, page = new_page(browser, TABLET)
    login(page, server.url, "esx.business")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Oversight").click()
    page.get_by_role("heading", name="Oversight: every open clock").wait_for()
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=ref, exact=True))
    line = card.get_by_role("row").filter(has_text=clock["title"])
    assert clock["due"] in line.inner_text() and STATUS_TEXT[clock["status"]] in line.inner_text()
    screen(page, "oversight-dashboard")

    with page.expect_download() as got:  # the export is fetched with the token and saved as a file
        page.get_by_role("button", name="Cases (CSV)").click()
    assert ref in Path(got.value.path()).read_text(encoding="utf-8")

    card.get_by_role("link", name=f"Timeline of {ref}").click()
    page.get_by_role("heading", name=f"Timeline of {ref}").wait_for()
    chart = page.get_by_role("img", name=f"Timeline chart of {ref}", exact=False)
    chart.wait_for()
    page.wait_for_function("() => document.querySelector('.timeline-chart img').naturalWidth > 0")
    assert clock["title"] in page.get_by_role("region", name="Clocks table").inner_text()
    screen(page, "oversight-timeline")
    page.get_by_role("button", name="Rapid review report (Word)").click()  # no final report form yet: the
    page.get_by_text("Not downloaded:").wait_for()  # server's reason is shown next to the button

    page.get_by_role("link", name=f"Audit trail of {ref}").click()
    page.get_by_role("heading", name=f"Audit trail of {ref}").wait_for()
    page.get_by_text(named, exact=False).first.wait_for()
    screen(page, "oversight-trail")

    page.get_by_role("link", name="Agency returns").click()
    page.get_by_role("heading", name=ref, exact=True).wait_for()
    screen(page, "oversight-returns")

    context.set_offline(True)  # oversight reads online: offline it says so rather than show old figures
    page.goto(server.url + "/app/#/oversight")
    page.get_by_text("needs a connection").wait_for()
    context.close()

    context, page = new_page(browser, TABLET)  # a statutory lead: clocks and timelines, no returns or trail
    login(page, server.url, "esx.la-lead")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Oversight").click()
    page.get_by_role("link", name=f"Timeline of {ref}").wait_for()
    assert nav.get_by_role("link", name="Agency returns").count() == 0
    assert page.get_by_role("link", name=f"Audit trail of {ref}").count() == 0
    context.close()

    context, page = new_page(browser, TABLET)
    login(page, server.url, "esx.health-visitor")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="My cases").is_visible()
    assert nav.get_by_role("link", name="Oversight").count() == 0
    context.close()
