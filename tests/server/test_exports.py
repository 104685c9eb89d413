"""Exports over loopback HTTP: cases.csv, cases.xlsx (read back with openpyxl), deadlines.csv for a
date range; scoped to the caller, audited, no personal data, formula injection neutralised."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.server.partnership_cases import CHILD, OPENED_EARLIER, TODAY
from tests.support import assert_problem

EVIL = "=HYPERLINK(\"https://evil.example\",\"click\")"


@pytest.fixture(scope="module")
def site(partnership_site):
    app = partnership_site
    admin = app.client("esx.admin")
    r = admin.http.patch(app.url + "/api/v1/admin/agencies/esx-schools", headers=admin.headers(),
                         json={"name": EVIL})  # an admin-typed name reaches the export
    assert r.status_code == 200, r.text
    yield app
    admin.http.patch(app.url + "/api/v1/admin/agencies/esx-schools", headers=admin.headers(),
                     json={"name": "East Sussex Schools"})  # as it was, for the other tests of the session


def _csv(resp) -> list[dict]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))


def test_cases_csv_scoped_neutralised_and_audited(site):
    business = site.client("esx.business")
    before = sum(1 for e in site.store.audit_log() if e.entry.get("action") == "export")
    rows = _csv(business.get("/api/v1/exports/cases.csv"))
    assert {r["case_id"] for r in rows} == {site.cases["overdue"], site.cases["review"], site.cases["closed"]}
    review = next(r for r in rows if r["case_id"] == site.cases["review"])
    assert review["state"] == "rapid_review" and review["rapid_review_report_due"] == "2026-03-23"
    assert review["rapid_review_report_status"] == "pending"
    assert review["rapid_review_report_working_days_left"] == "15"
    overdue = next(r for r in rows if r["case_id"] == site.cases["overdue"])
    assert overdue["sin_notification_status"] == "overdue" and overdue["overdue"] == "True"
    assert review["involved_agencies"].startswith("'" + EVIL)  # the formula is text, not a formula
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert CHILD not in str(rows)
    entries = [e.entry for e in site.store.audit_log() if e.entry.get("action") == "export"]
    assert len(entries) == before + 1 and entries[-1]["by"]["user_id"] == business.user["user_id"]
    # filters
    only = _csv(business.get("/api/v1/exports/cases.csv", params={"state": "sin_consideration"}))
    assert [r["case_id"] for r in only] == [site.cases["overdue"]]
    # another partnership, another file
    wsx = _csv(site.client("wsx.business").get("/api/v1/exports/cases.csv"))
    assert [r["case_id"] for r in wsx] == [site.cases["wsx"]]


def test_cases_xlsx_reads_back(site):
    r = site.client("esx.crg").get("/api/v1/exports/cases.xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["Content-Type"]
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header, body = rows[0], rows[1:]
    assert header[:4] == ["reference", "case_id", "case_type", "state"]
    assert {row[1] for row in body} == {site.cases["overdue"], site.cases["review"], site.cases["closed"]}
    agencies = body[[row[1] for row in body].index(site.cases["review"])][header.index("involved_agencies")]
    assert agencies.startswith("'=HYPERLINK")
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)  # no formula cells at all
    assert CHILD not in str(rows)


def test_deadlines_csv_for_a_range(site):
    business = site.client("esx.business")
    rows = _csv(business.get("/api/v1/exports/deadlines.csv", params={"from": "2026-03-16", "to": "2026-03-31"}))
    assert [(r["case_id"], r["clock"], r["due"]) for r in rows] == [
        (site.cases["review"], "rapid_review_report", "2026-03-23")]
    rows = _csv(business.get("/api/v1/exports/deadlines.csv", params={"from": "2026-02-01", "to": "2026-03-31"}))
    assert {r["clock"] for r in rows} == {"sin_notification", "rapid_review_report"}
    problem = assert_problem(business.get("/api/v1/exports/deadlines.csv",
                                          params={"from": "2026-03-31", "to": "2026-03-01"}), 422)
    assert problem["errors"][0]["path"] == "/to"
    assert_problem(business.get("/api/v1/exports/deadlines.csv", params={"from": "not-a-date"}), 422)


def _exports(site) -> list[dict]:
    return [e.entry for e in site.store.audit_log() if e.entry.get("action") == "export"]


def test_cases_filters_by_opening_date_and_open_only(site):
    business = site.client("esx.business")
    everything = {site.cases["overdue"], site.cases["review"], site.cases["closed"]}
    opened_today = {site.cases["overdue"], site.cases["review"]}
    day, earlier = TODAY.isoformat(), OPENED_EARLIER.isoformat()
    for params, expected in [
            ({"opened_from": day}, opened_today),
            ({"opened_to": earlier}, {site.cases["closed"]}),
            ({"opened_from": earlier, "opened_to": earlier}, {site.cases["closed"]}),
            ({"opened_from": "2026-02-17", "opened_to": "2026-03-01"}, set()),
            ({"opened_from": earlier, "opened_to": day}, everything),
            ({"open_only": "true"}, opened_today),
            ({"open_only": "false"}, everything),
            ({"open_only": "true", "opened_to": earlier}, set())]:
        rows = _csv(business.get("/api/v1/exports/cases.csv", params=params))
        assert {r["case_id"] for r in rows} == expected, params
    closed = _csv(business.get("/api/v1/exports/cases.csv", params={"opened_to": earlier}))[0]
    assert closed["state"] == "closed" and closed["opened_on"] == earlier
    # the filters apply to the spreadsheet alike
    r = business.get("/api/v1/exports/cases.xlsx", params={"open_only": "true", "opened_from": day})
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert {row[1] for row in rows[1:]} == opened_today
    # bad filters: problem+json naming the parameter, nothing audited
    before = len(_exports(site))
    for params, path in [({"opened_from": "yesterday"}, "opened_from"), ({"opened_to": "2026-02-30"}, "opened_to"),
                         ({"open_only": "perhaps"}, "open_only")]:
        problem = assert_problem(business.get("/api/v1/exports/cases.csv", params=params), 422)
        assert any(path in e["path"] for e in problem["errors"]), problem
    assert len(_exports(site)) == before


def test_xlsx_and_deadlines_exports_are_audited_with_their_parameters(site):
    crg = site.client("esx.crg")
    before = len(_exports(site))
    assert crg.get("/api/v1/exports/cases.xlsx", params={"open_only": "true", "opened_from": "2026-03-01"}
                   ).status_code == 200
    assert crg.get("/api/v1/exports/deadlines.csv", params={"from": "2026-03-16", "to": "2026-03-31"}
                   ).status_code == 200
    xlsx, deadlines = _exports(site)[before:]
    assert xlsx["export"] == "cases.xlsx" and xlsx["by"]["user_id"] == crg.user["user_id"]
    assert xlsx["params"] == {"open_only": True, "opened_from": "2026-03-01"}
    assert deadlines["export"] == "deadlines.csv" and deadlines["by"]["user_id"] == crg.user["user_id"]
    assert deadlines["params"] == {"from": "2026-03-16", "to": "2026-03-31"}
    assert CHILD not in str([xlsx, deadlines])


def test_refused_roles(site):
    for user in ("esx.social-worker", "esx.school-dsl", "esx.admin", "esx.reviewer"):
        for path in ("cases.csv", "cases.xlsx", "deadlines.csv"):
            assert_problem(site.client(user).get(f"/api/v1/exports/{path}"), 403, "forbidden-role")
