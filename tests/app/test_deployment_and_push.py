"""Scenarios 4 and 5 of issue #11, on a server started with a deployment's own definitions
directory: a case type the app's code has never heard of is opened offline (a referral) and
walked in the app; a real Web Push alert, encrypted by the server and decrypted by a loopback push
service, is handed to the app's service worker (DevTools ServiceWorker.deliverPushMessage) and
shown as a notification with no personal data, which opens the case."""

from __future__ import annotations

import json
import re
import time

import pytest
from click.testing import CliRunner

from server.cli import main
from tests.app.conftest import PHONE, TABLET, login, new_page, screen
from tests.push.pushservice import FakePushService
from tests.support import Client, LiveServer

# a deployment's own form and case type, under names no shipped definition (and no app code) uses
FORM = {
    "form_id": "harbour_learning_request", "version": 1, "title": "Harbour learning request",
    "description": "An agency asks the partnership to review practice below the serious incident threshold.",
    "roles": ["agency_safeguarding_lead", "business_team"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
        "required": ["requested_on", "requesting_agency", "summary", "learning_question"],
        "properties": {
            "requested_on": {"type": "string", "format": "date", "maxLength": 10, "title": "Date of the request",
                             "x-not-future": True},
            "requesting_agency": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-z0-9][a-z0-9-]*$",
                                  "x-pattern-hint": "Enter an agency id, like esx-schools",
                                  "title": "Requesting agency"},
            "summary": {"type": "string", "minLength": 1, "maxLength": 4000, "title": "What happened (no names)"},
            "learning_question": {"type": "string", "minLength": 1, "maxLength": 2000,
                                  "title": "What should we learn?"},
        },
    },
    "ui_schema": {"sections": [{"id": "request", "title": "The request",
                                "fields": ["requested_on", "requesting_agency", "summary", "learning_question"]}],
                  "fields": {"summary": {"widget": "textarea"}, "learning_question": {"widget": "textarea"}}},
    "examples": {"valid": [{"requested_on": "2025-05-02", "requesting_agency": "esx-schools",
                            "summary": "Absences were not shared.", "learning_question": "How is attendance shared?"}],
                 "invalid": [{"final": True, "errors": ["/summary"],
                              "data": {"requested_on": "2025-05-02", "requesting_agency": "esx-schools",
                                       "learning_question": "How is attendance shared?"}}]},
}
CASE_TYPE = """case_type: harbour_learning_review
version: 1
title: Harbour learning review
description: A partnership's own learning review, unknown to the app's code.
states:
  requested:
    initial: true
    title: Requested
    forms:
      harbour_learning_request: [agency_safeguarding_lead, business_team]
    notify:
      - roles: [business_team]
  in_review:
    title: In review
  closed:
    final: true
    title: Closed
transitions:
  - event: accept_request
    title: Accept the request for a learning review
    from: requested
    to: in_review
    roles: [business_team]
    requires_forms: [harbour_learning_request]
  - event: close_review
    title: Close the review
    from: [requested, in_review]
    to: closed
    roles: [business_team]
"""
SECRET_SUMMARY = "Pupil Zebedee Quartermaine-Oyelaran missed six weeks"  # personal data that must not travel by push


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    defs = tmp_path_factory.mktemp("deployment") / "defs"
    (defs / "forms").mkdir(parents=True)
    (defs / "case_types").mkdir()
    (defs / "forms" / "harbour_learning_request.v1.json").write_text(json.dumps(FORM, indent=1))
    (defs / "case_types" / "harbour_learning_review.yaml").write_text(CASE_TYPE)
    published = CliRunner().invoke(main, ["forms", "publish", "--definitions", str(defs)])
    assert published.exit_code == 0, published.output
    env = {"CASEFLOW_DEFINITIONS_DIR": str(defs), "CASEFLOW_PUSH_ALLOW_HTTP_LOOPBACK": "1"}
    srv = LiveServer(tmp_path_factory.mktemp("deployment-data") / "data", env=env).start(timeout=120)
    yield srv
    srv.stop()


def test_a_deployment_case_type_is_referred_offline_and_walked_in_the_app(deployment, browser):
    base = deployment.url
    context, page = new_page(browser, TABLET)
    login(page, base, "esx.business")
    context.set_offline(True)
    page.get_by_role("link", name="New referral").click()
    page.get_by_role("heading", name="New referral").wait_for()
    screen(page, "new-referral-types")
    page.get_by_role("link", name="Harbour learning review").click()
    page.get_by_label("Date of the request").fill(time.strftime("%Y-%m-%d"))
    page.get_by_label("Requesting agency").fill("esx-schools")
    page.get_by_label("What happened (no names)").fill("Attendance concerns were not shared.")
    page.get_by_label("What should we learn?").fill("How schools and social care share attendance concerns.")
    screen(page, "new-referral")
    page.get_by_role("button", name="Save final").click()
    page.get_by_role("heading", name="My cases").wait_for()
    page.get_by_text("Waiting to send").first.wait_for()

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    link = page.get_by_role("link", name=re.compile(r"^ESX-\d{4}-\d{4}$"))
    link.first.wait_for(timeout=20_000)
    link.first.click()
    page.get_by_role("button", name="Accept the request for a learning review").click()
    page.locator("dd.state", has_text="In review").wait_for(timeout=20_000)

    cases = Client(base, "esx.business").get("/api/v1/cases").json()
    listed = cases["cases"] if isinstance(cases, dict) else cases
    mine = [c for c in listed if c["case_type"] == "harbour_learning_review"]
    assert len(mine) == 1 and mine[0]["state"] == "in_review"
    context.close()


def test_a_push_alert_is_shown_without_personal_data_and_opens_the_case(deployment, browser):
    base = deployment.url
    business = Client(base, "esx.business")
    fake = FakePushService(business.get("/api/v1/push/vapid-public-key").json()["public_key"]).start()
    try:
        sub = fake.subscription()
        assert business.post("/api/v1/push/subscriptions", json=sub).status_code in (200, 201)
        context, page = new_page(browser, PHONE)
        context.grant_permissions(["notifications"], origin=base)
        login(page, base, "esx.business")
        # a referral from a school: the business team is alerted (notify on entering "requested")
        referral = {"requested_on": time.strftime("%Y-%m-%d"), "requesting_agency": "esx-schools",
                    "summary": SECRET_SUMMARY, "learning_question": "What should we learn?"}
        made = Client(base, "esx.school-dsl").post("/api/v1/cases", json={
            "case_type": "harbour_learning_review",
            "referral": {"form_id": "harbour_learning_request", "form_version": 1, "data": referral}})
        assert made.status_code == 201, made.text
        case_id, ref = made.json()["case_id"], made.json()["reference"]
        deadline = time.monotonic() + 20
        while not [p for p in fake.payloads(sub["endpoint"].split(fake.origin)[1]) if p.get("case_id") == case_id]:
            assert time.monotonic() < deadline, fake.errors
            time.sleep(0.1)
        payload = next(p for p in fake.payloads() if p.get("case_id") == case_id)  # decrypted, as a browser would

        cdp = context.new_cdp_session(page)
        registrations = []
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
        cdp.send("ServiceWorker.enable")
        deadline = time.monotonic() + 10
        while not registrations:
            assert time.monotonic() < deadline
            page.wait_for_timeout(50)
        cdp.send("ServiceWorker.deliverPushMessage", {
            "origin": base, "registrationId": registrations[0]["registrationId"], "data": json.dumps(payload)})
        shown = []
        deadline = time.monotonic() + 10
        while not shown:
            assert time.monotonic() < deadline
            shown = page.evaluate("""async () => (await (await navigator.serviceWorker.ready).getNotifications())
                                     .map(n => ({title: n.title, body: n.body, url: n.data && n.data.url}))""")
        assert shown[0]["title"] == f"Case moved on: {ref}"
        text = json.dumps(shown)
        assert "Zebedee" not in text and "Quartermaine" not in text and SECRET_SUMMARY not in text
        assert shown[0]["url"] == f"/app/#/case/{case_id}"
        page.goto(base + shown[0]["url"])  # what tapping it opens (notificationclick navigates there)
        page.get_by_role("heading", name=ref).wait_for()
        context.close()
    finally:
        fake.stop()
