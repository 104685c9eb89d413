"""Issue #11, offline case views beyond a hundred: a user who may see more cases than one sync round
fetches views for (clients/web/src/sync.js VIEW_BATCH) gets the server's view of every one of them,
in bounded rounds, so each case offers its actions offline. The cases are made in west-sussex (no
other browser test uses that partnership) with one real sync push through the write path."""

from __future__ import annotations

import time
import uuid

from tests.app.conftest import TABLET, login, new_page, wait_until
from tests.app.idb import OPEN, OPEN_VERSION_1
from tests.support import Client

CASES = 120  # more than the old cap of 100 views, and more than two rounds of 50

COUNTS = """async () => {
  const db = """ + OPEN + """
  const count = (s) => new Promise((ok) => {
    const q = db.transaction(s).objectStore(s).count(); q.onsuccess = () => ok(q.result) })
  const out = { cases: await count('cases'), views: await count('views'), stale: await count('stale') }
  db.close()
  return out
}"""


def seed(url: str) -> list[dict]:
    """CASES harbour learning requests from a west-sussex school, one push of create_case mutations."""
    school = Client(url, "wsx.school-dsl")
    today = time.strftime("%Y-%m-%d")
    mutations = [{
        "mutation_id": str(uuid.uuid4()), "seq": i + 1, "kind": "create_case", "case_id": str(uuid.uuid4()),
        "payload": {"case_type": "harbour_learning_review", "referral": {
            "form_id": "harbour_learning_request", "form_version": 1,
            "data": {"requested_on": today, "requesting_agency": "wsx-schools", "summary": f"Concern {i}.",
                     "learning_question": "What should we learn?"}}},
    } for i in range(CASES)]
    r = school.post("/api/v1/sync/push", json={"device_id": school.device_id, "mutations": mutations})
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * CASES, r.text
    return mutations


def test_every_case_gets_its_view_in_bounded_rounds_and_offers_its_actions_offline(server, browser):
    made = seed(server.url)
    business = Client(server.url, "wsx.business")
    last = business.get(f"/api/v1/cases/{made[-1]['case_id']}").json()
    assert "close_review" in last["allowed_events"]  # what the app must show offline

    context, page = new_page(browser, TABLET)
    login(page, server.url, "wsx.business")
    page.get_by_role("link", name=last["reference"]).wait_for()
    wait_until(page, f"""async () => {{ const c = await ({COUNTS})();
                                     return c.cases >= {CASES} && c.stale === 0 }}""")
    counts = page.evaluate(COUNTS)
    assert counts["views"] == counts["cases"] >= CASES, counts

    context.set_offline(True)
    page.reload()
    for case in (made[0], made[-1]):  # the first and the last case of the feed alike
        page.goto(f"{server.url}/app/#/case/{case['case_id']}")
        page.get_by_role("heading", name="What you can do").wait_for()
        assert page.get_by_role("button", name="Close the review").is_visible()
        assert page.get_by_text("Connect once to see the actions").count() == 0
    context.close()


VERSION_1 = """async () => {
  const db = """ + OPEN_VERSION_1 + """
  const tx = db.transaction(['cases', 'meta'], 'readwrite')
  for (const id of ['case-a', 'case-b']) tx.objectStore('cases').put({ id, version: 1, data: { case_id: id } })
  tx.objectStore('meta').put('device-from-version-1', 'device_id')
  await new Promise((ok) => { tx.oncomplete = ok })
  db.close()
}"""

STALE = """async () => {
  const db = """ + OPEN + """
  const keys = await new Promise((ok) => { const q = db.transaction('stale').objectStore('stale').getAllKeys();
                                           q.onsuccess = () => ok(q.result) })
  const out = { version: db.version, stale: keys }
  db.close()
  return out
}"""


def test_a_device_upgraded_from_database_version_1_marks_every_case_it_holds_stale(server, browser):
    """Versions 1 and 2 fetched at most 100 views per sync; the upgrade to 3 marks all held cases stale."""
    context, page = new_page(browser, TABLET)
    page.goto(server.url + "/app/manifest.webmanifest")  # the app's origin, without the app running
    page.evaluate(VERSION_1)
    page.goto(server.url + "/app/")
    page.get_by_label("Username").wait_for()  # the app opened its database (no one is logged in)
    wait_until(page, f"async () => (await ({STALE})()).version === 3")
    assert page.evaluate(STALE) == {"version": 3, "stale": ["case-a", "case-b"]}
    context.close()
