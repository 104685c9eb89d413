"""Cases opened under serious_incident version 1 keep running under version 1 after version 2 ships
(issue #13: "running cases on today's versions keep working"): the same HTTP calls, the old rules
(four approvals at sign-off, no tasks), and their definition still in the pull feed. Likewise the
death notification and JAR cases opened before their hand-off versions (ADR 0033)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.server.test_death_notifications_http import death, jar, open_jar, open_notification
from tests.server.walks import AGENCIES, SIGNERS, A, K, S, T, V, Walk, agency_return, referral, rr_report, sin
from tests.support import InProcessApp

B, CRG, HOS = "esx.business", "esx.crg", "esx.hos"


def as_version(app: InProcessApp, case_id: str, version: int = 1) -> None:
    """The case as it was stored before a later version shipped."""
    with app.store.transaction() as uow:
        doc = uow.get("cases", case_id)
        uow.update("cases", case_id, {**doc.data, "case_type_version": version}, expected_version=doc.version,
                   publish=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = InProcessApp(tmp_path_factory.mktemp("running") / "data", dt.date(2026, 12, 7))
    yield app
    app.close()


def test_a_version_1_case_keeps_its_rules_and_its_definition(app):
    w = Walk(app.url)
    w.open(B, referral())
    as_version(app, w.case_id)
    w.version = w.view(B)["version"]
    w.run([
        T(B, "put_to_crg", "referred"),
        S(HOS, "sin_decision", sin(), version=1),
        T(HOS, "notify_panel", "sin_consideration"),
        *[S(u, "rapid_review_agency_return", agency_return(a)) for u, a in AGENCIES.items()],
        T(CRG, "start_analysis", "rapid_review"),
        S(CRG, "rapid_review_report", rr_report("no_lcspr")),
        T(CRG, "submit_for_sign_off", "rapid_review_analysis"),
        # version 1: the business team asks, the three partners and the scrutineer approve; no tasks
        T(B, "sign_off_rapid_review", "rapid_review_sign_off", 202),
        *[A(u, "sign_off_rapid_review") for u in SIGNERS],
        V(B, state="learning_dissemination", case_type_version=1, tasks=[]),
    ])
    changes, _ = w.client(B).pull_all()
    assert {("case_type", "serious_incident@1"), ("case_type", "serious_incident@2")} <= {
        (c["entity"], c["id"]) for c in changes}


def test_death_notifications_on_the_earlier_versions_keep_their_task_route_and_open_nothing(app):
    """A care-leaver case opened under version 2, a JAR and a looked-after child's death under version 1
    still record the serious incident's reference as a task, and open no case: running cases keep the
    rules they began with."""
    cl, jr = Walk(app.url), Walk(app.url)
    open_notification(cl, "care_leaver_death_notification", death("care_leaver", 17))
    open_jar(jr, jar(abuse_or_neglect_suggested="yes"))
    for walk, version in ((cl, 2), (jr, 1)):
        as_version(app, walk.case_id, version)
        walk.version = walk.view(B)["version"]
    before = len(cl.client(B).get("/api/v1/cases").json()["cases"])
    for walk in (cl, jr):
        walk.run([
            T(HOS, "refer_as_serious_incident", "referred", 422),  # the serious incident's reference first
            K(HOS, "serious_incident_opened", date="2026-10-01", note="Serious incident ESX-2026-0043 opened."),
            T(HOS, "refer_as_serious_incident", "referred"),
            V(B, state="referred_as_serious_incident", links=[]),
        ])
    la = Walk(app.url)  # a looked-after child's death under version 1: the task route from `notified`
    told = {"sos_notified_on": "2026-10-01", "ofsted_notified_on": "2026-10-02"}
    open_notification(la, "looked_after_child_death_notification",
                      death("looked_after_child", 15, abuse_or_neglect="suspected", **told))
    as_version(app, la.case_id, 1)
    la.version = la.view(B)["version"]
    la.run([
        T(HOS, "record_notifications", "referred"),
        T(B, "refer_as_serious_incident", "notified", 422),
        K(B, "serious_incident_opened", date="2026-10-02", note="Serious incident ESX-2026-0042 opened."),
        T(B, "refer_as_serious_incident", "notified"),
        V(B, state="referred_as_serious_incident", links=[]),
    ])
    assert len(cl.client(B).get("/api/v1/cases").json()["cases"]) == before + 1  # the notification only
