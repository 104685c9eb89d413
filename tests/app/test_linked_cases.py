"""Linked cases in the app (ADR 0033): the case view lists a case's links, each one a link to the other
case only for a user who may open it; the referring hospital sees that a serious incident was
opened from its JAR, and nothing it could follow."""

from __future__ import annotations

from tests.app import world
from tests.app.conftest import login, new_page, screen
from tests.support import Client


def referred_jar(url: str) -> tuple[str, str]:
    """A JAR referred by the hospital (police involved) that its findings turned into a serious incident."""
    data = world.example("jar_referral")
    data.update({"involved_agencies": ["sussex-police"], "abuse_or_neglect_suggested": "yes"})
    r = Client(url, "esx.health-dsl").post("/api/v1/cases", json={"case_type": "child_death_jar_referral", "referral": {
        "form_id": "jar_referral", "form_version": world.FORMS.latest("jar_referral").version, "data": data}})
    assert r.status_code == 201, r.text
    jar_id = r.json()["case_id"]
    fired = world.fire(Client(url, "esx.hos"), jar_id, "refer_as_serious_incident", "referred")
    return jar_id, fired["links"][0]["case_id"]


def test_linked_cases_are_links_only_for_those_who_may_open_them(server, browser):
    jar_id, si_id = referred_jar(server.url)
    jar_ref, si_ref = world.reference(server.url, jar_id), world.reference(server.url, si_id)

    context, page = new_page(browser)
    login(page, server.url, "esx.business")
    page.goto(f"{server.url}/app/#/case/{jar_id}")
    links = page.get_by_role("region", name="Linked cases")
    links.get_by_role("link", name=si_ref).click()  # navigable: the business team may open both
    page.get_by_role("heading", name=si_ref, exact=True).wait_for()
    page.get_by_role("region", name="Linked cases").get_by_role("link", name=jar_ref).wait_for()
    screen(page, "case-linked")
    context.close()

    context, page = new_page(browser)
    login(page, server.url, "esx.health-dsl")
    page.goto(f"{server.url}/app/#/case/{jar_id}")
    links = page.get_by_role("region", name="Linked cases")
    links.get_by_text("A case you may not open").wait_for()
    assert links.get_by_role("link").count() == 0 and si_ref not in links.inner_text()
    context.close()
