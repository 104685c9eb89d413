"""Scenarios 2 and 3 of issue #11: two devices change the same form offline and the second one
resolves the conflict in the app; a statutory lead on a 375 px phone votes on a pending step."""

from __future__ import annotations

from tests.app import world
from tests.app.conftest import PHONE, TABLET, login, new_page, screen
from tests.support import Client

FORM = "rapid_review_agency_return"


def _edit_offline(context, page, base: str, case_id: str, name: str) -> None:
    context.set_offline(True)
    page.goto(base + f"/app/#/case/{case_id}/form/{FORM}")
    field = page.get_by_label("Agency name")
    field.fill(name)
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Draft saved").wait_for()


def _online(context, page) -> None:
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")


def test_two_devices_edit_one_form_offline_and_the_second_resolves_the_conflict(server, browser):
    case_id = world.open_case(server.url)
    world.to_rapid_review(server.url, case_id)
    base = world.example(FORM)
    base.update(agency_id="uh-sussex", agency_name="UHS")
    world.save(Client(server.url, "esx.health-dsl"), case_id, FORM, base, status="draft")

    ctx_a, a = new_page(browser, TABLET)
    ctx_b, b = new_page(browser, TABLET)
    login(a, server.url, "esx.health-dsl")
    login(b, server.url, "esx.health-visitor")
    _edit_offline(ctx_a, a, server.url, case_id, "University Hospitals Sussex NHS FT")
    _edit_offline(ctx_b, b, server.url, case_id, "UH Sussex (Royal Sussex County)")

    _online(ctx_a, a)
    a.goto(server.url + "/app/#/outbox")
    a.get_by_text("Applied").first.wait_for()
    _online(ctx_b, b)
    b.goto(server.url + "/app/#/outbox")
    b.get_by_text("Conflict", exact=True).first.wait_for()

    b.goto(server.url + f"/app/#/case/{case_id}")
    b.get_by_role("heading", name="Conflicts to resolve").wait_for()
    screen(b, "conflict")
    b.get_by_role("radio", name="Enter a new value").check()
    b.get_by_role("textbox", name="New value").fill("University Hospitals Sussex")
    b.get_by_role("button", name="Resolve conflict").click()
    b.get_by_role("heading", name="Conflicts to resolve").wait_for(state="detached")

    dsl = Client(server.url, "esx.health-dsl")

    def settled() -> dict:
        view = dsl.get(f"/api/v1/cases/{case_id}").json()
        return next(s for s in view["submissions"] if s["form_id"] == FORM), view["open_conflicts"]

    for _ in range(100):
        sub, open_conflicts = settled()
        if not open_conflicts:
            break
        b.wait_for_timeout(100)
    assert not open_conflicts
    assert sub["data"]["agency_name"] == "University Hospitals Sussex"
    ctx_a.close()
    ctx_b.close()


def test_a_statutory_lead_votes_on_a_phone(server, browser):
    case_id = world.open_case(server.url)
    world.fire(Client(server.url, "esx.business"), case_id, "escalate_to_statutory_leads", "sin_consideration")
    hos = Client(server.url, "esx.hos")
    sin = world.example("sin_decision")
    sin["decision_date"] = sin["notified_on"] = world.dt.date.today().isoformat()
    world.save(hos, case_id, "sin_decision", sin)
    assert hos.post(f"/api/v1/cases/{case_id}/transitions",
                    json={"event": "notify_panel", "expected_state": "sin_escalated"}).status_code == 202
    ref = world.reference(server.url, case_id)

    context, page = new_page(browser, PHONE)
    login(page, server.url, "esx.health-lead")
    page.get_by_role("link", name=ref).click()
    page.get_by_role("heading", name="Waiting for approval: Notify the National Panel (SIN) on the statutory "
                                      "leads' decision").wait_for()
    screen(page, "approval")
    page.get_by_label("Comment on your decision (optional)").fill("Agreed for health.")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Your decision is queued.").wait_for()
    page.get_by_text("Voted: Statutory lead (Health)").wait_for(timeout=60_000)  # the refreshed view

    pending = Client(server.url, "esx.business").get(f"/api/v1/cases/{case_id}").json()["pending_approvals"]
    missing = {(m["role"], m["sector"]) for m in pending["missing"]}
    assert ("statutory_lead", "health") not in missing and ("statutory_lead", "police") in missing
    history = Client(server.url, "esx.business").get(f"/api/v1/cases/{case_id}/history").json()["entries"]
    assert [e["action"] for e in history].count("approval.approve") == 1
    context.close()
