"""Cases opened under serious_incident version 1 keep running under version 1 after version 2 ships
(issue #13: "running cases on today's versions keep working"): the same HTTP calls, the old rules
(four approvals at sign-off, no tasks), and their definition still in the pull feed."""

from __future__ import annotations

import datetime as dt

from tests.server.walks import AGENCIES, SIGNERS, A, S, T, V, Walk, agency_return, referral, rr_report, sin
from tests.support import InProcessApp

B, CRG, HOS = "esx.business", "esx.crg", "esx.hos"


def as_version_1(app: InProcessApp, case_id: str) -> None:
    """The case as it was stored before version 2 shipped."""
    with app.store.transaction() as uow:
        doc = uow.get("cases", case_id)
        uow.update("cases", case_id, {**doc.data, "case_type_version": 1}, expected_version=doc.version,
                   publish=True)


def test_a_version_1_case_keeps_its_rules_and_its_definition(tmp_path):
    app = InProcessApp(tmp_path / "data", dt.date(2026, 12, 7))
    try:
        w = Walk(app.url)
        w.open(B, referral())
        as_version_1(app, w.case_id)
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
    finally:
        app.close()
