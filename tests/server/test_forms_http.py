"""Forms served for offline use: the list, each version with a strong ETag, 304, cache headers."""

from __future__ import annotations

import requests

from tests.support import Client, assert_problem

FORMS = {"crg_referral", "sin_decision", "rapid_review_agency_return", "rapid_review_report",
         "lcspr_terms_of_reference", "lcspr_quality_assurance", "publication_record", "action_plan",
         "learning_briefing", "delay_notice", "death_notification", "jar_referral",
         "national_review_contribution", "practice_learning_referral", "practice_learning_decision"}


def test_list_has_all_ten_forms_with_versions(server):
    c = Client(server.url, "esx.school-dsl")
    body = c.get("/api/v1/forms").json()
    by_id = {f["form_id"]: f for f in body["forms"]}
    assert set(by_id) >= FORMS
    for form in by_id.values():
        assert form["versions"] and form["latest"] == max(v["version"] for v in form["versions"])


def test_version_has_strong_etag_and_304(server):
    c = Client(server.url, "esx.school-dsl")
    r = c.get("/api/v1/forms/sin_decision/versions/1")
    assert r.status_code == 200
    doc = r.json()
    assert doc["form_id"] == "sin_decision" and doc["version"] == 1
    assert doc["schema"]["$schema"].endswith("2020-12/schema") and "ui_schema" in doc
    etag = r.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "immutable" in r.headers["Cache-Control"]
    again = c.http.get(server.url + "/api/v1/forms/sin_decision/versions/1",
                       headers={**c.headers(), "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    other = c.http.get(server.url + "/api/v1/forms/sin_decision/versions/1",
                       headers={**c.headers(), "If-None-Match": '"something-else"'})
    assert other.status_code == 200
    # a different version has a different tag
    assert c.get("/api/v1/forms/crg_referral/versions/1").headers["ETag"] != \
        c.get("/api/v1/forms/crg_referral/versions/2").headers["ETag"]


def test_unknown_form_and_version(server):
    c = Client(server.url, "esx.school-dsl")
    assert_problem(c.get("/api/v1/forms/no_such_form/versions/1"), 404, "unknown-form")
    body = assert_problem(c.get("/api/v1/forms/sin_decision/versions/99"), 404, "unknown-form-version")
    assert body["available_versions"] == [1, 2] and "1, 2" in body["detail"]


def test_forms_need_a_login(server):
    assert_problem(requests.get(server.url + "/api/v1/forms"), 401)


def test_action_plan_and_publication_record_have_a_second_version(server):
    c = Client(server.url, "esx.school-dsl")
    by_id = {f["form_id"]: f for f in c.get("/api/v1/forms").json()["forms"]}
    new_fields = {"action_plan": {"reflective_learning_outcome", "reflective_learning_on",
                                  "reflective_learning_not_held_reason"},
                  "publication_record": {"withdrawn_on", "withdrawal_reason"}}
    for form_id, fields in new_fields.items():
        versions = {v["version"]: v.get("accept_until") for v in by_id[form_id]["versions"]}
        # version 1 stays accepted until its date; the latest has none
        assert versions == {1: "2027-03-31", 2: None} and by_id[form_id]["latest"] == 2
        v2 = c.get(f"/api/v1/forms/{form_id}/versions/2").json()["schema"]["properties"]
        v1 = c.get(f"/api/v1/forms/{form_id}/versions/1").json()["schema"]["properties"]
        assert fields <= set(v2) and not fields & set(v1)
        assert set(v1) <= set(v2)  # only additions: a version 1 record is a version 2 record
