"""Issue #11, keyboard only: from "My cases", a school's safeguarding lead opens "New referral",
picks the deployment's own case type, fills its referral form and saves it final with nothing but
Tab, typing, Enter (links) and Space (the button); the server then holds the case with what was
typed. West-sussex, so the other browser tests' east-sussex case lists are untouched."""

from __future__ import annotations

import datetime as dt

from tests.app.conftest import TABLET, login, new_page, wait_until
from tests.app.idb import OPEN
from tests.support import Client

# the focused element's accessible name, as far as these screens need it: its label or its text
FOCUSED = """() => { const e = document.activeElement
  return ((e.labels && e.labels[0] && e.labels[0].textContent) || e.textContent || '').trim() }"""

OUTBOX = """async () => {
  const db = """ + OPEN + """
  const all = await new Promise((ok) => { const q = db.transaction('outbox').objectStore('outbox').getAll();
                                          q.onsuccess = () => ok(q.result) })
  db.close()
  return all.map((m) => ({ kind: m.kind, state: m.state, case_id: m.case_id }))
}"""


def tab_to(page, name: str, limit: int = 40) -> None:
    """Press Tab until the focus is on the control named ``name`` (a person reading the screen)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED) == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_a_referral_filled_and_saved_with_the_keyboard_alone(server, browser):
    # day and month alike: a date field's segment order follows the browser's UI language, not the page's
    requested = dt.date(dt.date.today().year - 1, 11, 11)
    context, page = new_page(browser, TABLET)
    login(page, server.url, "wsx.school-dsl")

    tab_to(page, "New referral")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="New referral").wait_for()
    tab_to(page, "Harbour learning review")
    page.keyboard.press("Enter")
    tab_to(page, "Date of the request")
    page.keyboard.type(requested.strftime("%d%m%Y"))
    tab_to(page, "Requesting agency")
    page.keyboard.type("wsx-schools")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "What happened (no names)"
    page.keyboard.type("Attendance concerns were not passed on.")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "What should we learn?"
    page.keyboard.type("How attendance concerns reach the safeguarding lead.")
    assert page.get_by_label("Date of the request").input_value() == requested.isoformat()
    tab_to(page, "Save final")
    page.keyboard.press("Space")
    page.get_by_role("heading", name="My cases").wait_for()

    settled = "(m) => m.kind === 'create_case' && ['applied', 'conflict', 'rejected'].includes(m.state)"
    wait_until(page, f"async () => (await ({OUTBOX})()).some({settled})")
    made = [m for m in page.evaluate(OUTBOX) if m["kind"] == "create_case"]
    assert [m["state"] for m in made] == ["applied"]
    case = Client(server.url, "wsx.business").get(f"/api/v1/cases/{made[0]['case_id']}").json()
    assert case["case_type"] == "harbour_learning_review"
    referral = next(s for s in case["submissions"] if s["form_id"] == "harbour_learning_request")
    assert referral["data"] == {"requested_on": requested.isoformat(), "requesting_agency": "wsx-schools",
                                "summary": "Attendance concerns were not passed on.",
                                "learning_question": "How attendance concerns reach the safeguarding lead."}
    context.close()
