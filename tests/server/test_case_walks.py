"""Every path of serious_incident walked end to end over real HTTP by the demo users of CONTRACT.md,
each logged in on their own device: the case view at every step (state, version, this caller's
allowed events and open forms), the forbidden moves, submissions semantics and the audit trail.
The deadline clocks run on an in-process app whose clock the test pins and steps."""

from __future__ import annotations

import datetime as dt
import json

import holidays
import pytest

from tests.pgfixtures import store_for, stores
from tests.server.walks import (
    AGENCIES,
    CHILD_DOB,
    CHILD_NAME,
    NATIONAL,
    SIGNERS,
    A,
    K,
    S,
    T,
    V,
    Walk,
    action_plan,
    agency_return,
    briefing,
    commissioning_tasks,
    delay,
    latest,
    problem_paths,
    publication,
    publication_tasks,
    qa,
    referral,
    refused_for,
    rr_report,
    sign_off_tasks,
    sin,
    terms,
    to_lcspr_approval,
    to_lcspr_in_progress,
    to_pre_publication,
)
from tests.support import InProcessApp, LiveServer

B, CRG, HOS, REV = "esx.business", "esx.crg", "esx.hos", "esx.reviewer"


@pytest.fixture(scope="module", params=stores("pg-walks"))
def walk_server(request, tmp_path_factory):
    """Every walk over HTTP runs on both stores (PostgreSQL: ``serve --workers 4``), one server per
    store for the module; each walk opens cases of its own. The pinned-clock walks use ``pinned``."""
    data = tmp_path_factory.mktemp("walks") / "data"
    _, env = store_for(request, request.param, data)
    srv = LiveServer(data, env=env).start(timeout=120)  # a loaded CI machine starts slowly
    yield srv
    srv.stop()
SCHOOL, HEALTH, POLICE = "esx.school-dsl", "esx.health-dsl", "esx.police-dsl"


def to_rapid_review(w: Walk) -> None:
    """referred -> sin_consideration -> rapid_review (the common start of the SIN paths)."""
    w.run([
        T(B, "put_to_crg", "referred"),
        S(HOS, "sin_decision", sin()),
        T(HOS, "notify_panel", "sin_consideration"),
    ])


def sign_off(event: str, requester: str = B) -> list:
    """A step needing the three statutory partners and the scrutineer: 202, then one vote each."""
    return [T(requester, event, {"sign_off_rapid_review": "rapid_review_sign_off",
                                 "approve_lcspr": "lcspr_approval"}[event], 202),
            *[A(u, event) for u in SIGNERS]]


def test_the_lcspr_path_from_referral_to_closed(walk_server):
    w = Walk(walk_server.url)
    opened = w.open(SCHOOL)
    assert opened["state"] == "referred" and opened["reference"].startswith("ESX-")
    assert opened["allowed_events"] == [] and [f["form_id"] for f in opened["forms"]] == ["crg_referral"]
    reviewer_id = w.client(REV).user["user_id"]
    w.run([
        # referred: only the business team puts the referral to the CRG
        V(B, state="referred", allowed=["put_to_crg", *NATIONAL],
          forms={"crg_referral": "final", "delay_notice": "not_started"}),
        V(SCHOOL, allowed=[], forms={"crg_referral": "final"}),
        V(CRG, allowed=[], forms={}),
        T(CRG, "put_to_crg", "referred", 403),  # wrong role
        T(B, "publish", "referred", 409),  # not an event of this state
        T(B, "no_such_event", "referred", 422),
        T(B, "record_national_review", "referred", comment="Panel: no national review yet"),
        T(B, "put_to_crg", "referred"),
        T(B, "put_to_crg", "referred", 409),  # stale expected_state
        # sin_consideration: the LA Head of Safeguarding notifies once the SIN decision is final
        V(HOS, state="sin_consideration", allowed=[], forms={"sin_decision": "not_started"}),
        V(CRG, allowed=["escalate_to_statutory_leads"], forms={"sin_decision": "not_started"}),
        T(HOS, "notify_panel", "sin_consideration", 422),  # no final SIN decision
        S(HOS, "sin_decision", sin(), final=False),
        T(HOS, "notify_panel", "sin_consideration", 422),  # a draft is not enough
        V(HOS, allowed=[], forms={"sin_decision": "draft"}),
        S(SCHOOL, "sin_decision", sin(), status=403),  # not an agency's form
        S(HOS, "sin_decision", sin(abuse_or_neglect_known_or_suspected=False)),
        T(HOS, "notify_panel", "sin_consideration", 422),  # the guard: criterion (b) fails
        S(HOS, "sin_decision", sin()),  # amended by a new final
        V(HOS, allowed=["notify_panel"], forms={"sin_decision": "final"}),
        T(B, "notify_panel", "sin_consideration", 403),
        T(HOS, "notify_panel", "sin_consideration"),
        # rapid_review: each involved agency returns; the business team may record a delay notice
        V(B, state="rapid_review", allowed=NATIONAL, forms={"delay_notice": "not_started"}),
        V(CRG, allowed=[], forms={"rapid_review_report": "not_started"}),
        *[V(u, allowed=[], forms={"rapid_review_agency_return": "not_started"}) for u in AGENCIES],
        T(CRG, "start_analysis", "rapid_review", 422),  # no return yet
    ])
    # a delay notice names a clock of this case type: a mistyped name is refused, naming the field
    wrong = w.step(*S(B, "delay_notice", delay("rapid_review_reprot", "2026-10-28", "2026-10-27")
                      | {"revised_date": "2026-11-04"}, status=422))
    assert wrong["type"].endswith("unknown-clock") and problem_paths(wrong) == {"/payload/data/deadline"}
    assert "rapid_review_report" in wrong["errors"][0]["message"]
    w.run([
        S(B, "delay_notice", delay("rapid_review_report", "2026-10-28", "2026-10-27"), status=422),  # no new date
        S(CRG, "delay_notice", delay(), status=403),  # the business team's form
        S(B, "delay_notice", delay("rapid_review_report", "2026-10-28", "2026-10-27") | {"revised_date": "2026-11-04"}),
        V(B, forms={"delay_notice": "final"}),
        S(SCHOOL, "rapid_review_agency_return", agency_return("esx-schools"), final=False),
        V(SCHOOL, forms={"rapid_review_agency_return": "draft"}),
        *[S(u, "rapid_review_agency_return", agency_return(a)) for u, a in AGENCIES.items()],
        *[V(u, forms={"rapid_review_agency_return": "final"}) for u in AGENCIES],
        T(B, "record_no_national_review", "rapid_review"),
        V(CRG, allowed=["start_analysis"]),
        T(CRG, "start_analysis", "rapid_review"),
        # rapid_review_analysis: the report with the LCSPR decision
        V(CRG, state="rapid_review_analysis", allowed=[], forms={"rapid_review_report": "not_started"}),
        S(SCHOOL, "rapid_review_agency_return", agency_return("esx-schools", "Late correction.")),  # still open
        T(CRG, "submit_for_sign_off", "rapid_review_analysis", 422),
        S(CRG, "rapid_review_report", rr_report("commission_lcspr")),
        V(CRG, allowed=["submit_for_sign_off"], forms={"rapid_review_report": "final"}),
        T(CRG, "submit_for_sign_off", "rapid_review_analysis"),
        # rapid_review_sign_off (1.1.21): the CRG decides, the leads oversee (they may send it back),
        # the scrutineer reviews; the review is recorded as tasks, not as four approvals
        V(B, state="rapid_review_sign_off", allowed=["return_to_analysis", *NATIONAL]),
        V(CRG, allowed=["return_to_analysis"], forms={"rapid_review_report": "final"}),
        *[V(u, allowed=["return_to_analysis"], forms={}) for u in SIGNERS],
        A("esx.la-lead", "sign_off_rapid_review", status=409),  # nothing to approve
        S(B, "rapid_review_report", rr_report("no_lcspr"), status=403),  # the CRG's report
        T(CRG, "sign_off_rapid_review", "rapid_review_sign_off", 422),  # not reviewed yet
        K("esx.la-lead", "scrutineer_review", date="2026-10-21", choice="agrees", status=403),
        K("esx.scrutineer", "scrutineer_review", date="2099-01-01", choice="agrees", status=422),  # future
        K("esx.scrutineer", "report_shared_for_review", date="2026-10-21", status=403),
        *sign_off_tasks(),
        K("esx.la-lead", "statutory_leads_oversight", date="2026-10-21", note="Content with the decision."),
        T(B, "sign_off_rapid_review", "rapid_review_sign_off", 403),
        T("esx.la-lead", "sign_off_rapid_review", "rapid_review_sign_off", 403),
        V(CRG, allowed=["sign_off_rapid_review", "return_to_analysis"]),
        T(CRG, "sign_off_rapid_review", "rapid_review_sign_off"),
        # lcspr_commissioning: terms of reference, then a lead reviewer is assigned
        V(B, state="lcspr_commissioning", allowed=NATIONAL,
          forms={"lcspr_terms_of_reference": "not_started", "rapid_review_report": "final",
                 "delay_notice": "final"}),
        T(CRG, "start_lcspr", "lcspr_commissioning", 422),
        S(CRG, "lcspr_terms_of_reference", terms()),
        (REV, "GET", "", None, 404),  # a lead reviewer sees only the cases assigned to them
        (B, "POST", "assignments", {"user_id": "esx.reviewer"}, 422),  # a user id, not a username
        (SCHOOL, "POST", "assignments", {"user_id": reviewer_id}, 403),
        (B, "POST", "assignments", {"user_id": reviewer_id}, 200),
        V(B, assigned_reviewers=[reviewer_id]),
        T(CRG, "start_lcspr", "lcspr_commissioning", 422),  # the commissioning duties first (1.1.45, 1.1.46)
        *commissioning_tasks(),
        T(CRG, "start_lcspr", "lcspr_commissioning"),
        # lcspr_in_progress -> QA returns it -> resubmitted -> QA approves
        V(REV, state="lcspr_in_progress", allowed=["submit_draft"], forms={}),
        V(CRG, allowed=[], forms={"lcspr_terms_of_reference": "final"}),
        S(CRG, "lcspr_quality_assurance", qa("approve_for_sign_off"), status=409),  # not open yet
        T(REV, "submit_draft", "lcspr_in_progress"),
        V(CRG, state="lcspr_quality_assurance", allowed=[], forms={"lcspr_quality_assurance": "not_started"}),
        V(REV, allowed=[], forms={}),
        T(REV, "complete_quality_assurance", "lcspr_quality_assurance", 403),
        S(CRG, "lcspr_quality_assurance", qa("return_to_reviewer")),
        T(CRG, "complete_quality_assurance", "lcspr_quality_assurance"),
        V(REV, state="lcspr_in_progress", allowed=["submit_draft"]),
        S(CRG, "lcspr_quality_assurance", qa("approve_for_sign_off"), status=409),  # locked after
        T(REV, "submit_draft", "lcspr_in_progress"),
        S(CRG, "lcspr_quality_assurance", qa("approve_for_sign_off")),  # a fresh QA for this round
        T(CRG, "complete_quality_assurance", "lcspr_quality_assurance"),
        # lcspr_approval: the same four approvals
        V(CRG, state="lcspr_approval", allowed=["approve_lcspr", "return_for_revision"], forms={}),
        *sign_off("approve_lcspr", CRG),
        # pre_publication -> deferred -> resumed -> published
        V(B, state="pre_publication", allowed=["defer_publication", *NATIONAL],
          forms={"publication_record": "not_started", "learning_briefing": "not_started", "delay_notice": "final"}),
        T(B, "publish", "pre_publication", 422),
        T(B, "defer_publication", "pre_publication"),
        # deferred: the learning is shared meanwhile before publication resumes (1.1.29, 1.1.61)
        V(B, state="publication_deferred", allowed=NATIONAL),
        T(B, "publish", "publication_deferred", 409),
        T(B, "record_national_review", "publication_deferred"),
        T(B, "resume_publication", "publication_deferred", 422),
        S(B, "learning_briefing", briefing()),
        T(B, "resume_publication", "publication_deferred"),
        S(B, "publication_record", publication(), final=False),
        T(B, "publish", "pre_publication", 422),
        # copies sent the day before publication: refused (1.1.55)
        S(B, "publication_record", publication(published="2026-11-20", sent="2026-11-19")),
        *publication_tasks(),
        T(B, "publish", "pre_publication", 422),
        S(B, "publication_record", publication(published="2026-11-20", sent="2026-11-10")),
        V(B, allowed=["defer_publication", "publish", *NATIONAL]),
        T(B, "publish", "pre_publication"),
        # published -> action plan monitoring -> concluded only when every action is implemented
        V(B, state="published", allowed=NATIONAL,
          forms={"publication_record": "final", "action_plan": "not_started", "learning_briefing": "final",
                 "delay_notice": "final"}),
        V(SCHOOL, forms={"action_plan": "not_started"}),
        T(B, "start_monitoring", "published", 422),  # disseminated first (1.1.52)
        K(B, "report_disseminated", date="2026-11-21"),
        T(B, "start_monitoring", "published"),
        S(SCHOOL, "action_plan", action_plan("open", "in_progress")),
        V(B, state="action_plan_monitoring", allowed=NATIONAL),
        T(B, "conclude", "action_plan_monitoring", 422),
        S(B, "action_plan", action_plan("implemented", "in_progress")),
        T(B, "conclude", "action_plan_monitoring", 422),
        S(SCHOOL, "action_plan", action_plan("implemented", "implemented")),
        V(B, allowed=["conclude", *NATIONAL]),
        T(SCHOOL, "conclude", "action_plan_monitoring", 403),
        T(B, "conclude", "action_plan_monitoring"),
        # concluded stays open until the reflective learning event
        V(B, state="concluded", allowed=NATIONAL,
          forms={"action_plan": "final", "publication_record": "final", "delay_notice": "final"}),
        S(SCHOOL, "action_plan", action_plan("implemented", "implemented"), status=403),
        # closing needs the reflective learning event (or the Board's decision not to hold one)
        T(B, "close_after_reflective_learning", "concluded", 422),
        S(B, "action_plan", action_plan("implemented", "implemented", reflective=("held", "2026-11-22"))),
        V(B, allowed=["close_after_reflective_learning", *NATIONAL]),
        # the report is taken down while the case is still open (closing it would not have stopped the year)
        S(B, "publication_record", publication(published="2026-11-20", sent="2026-11-10", withdrawn="2026-11-21")),
        T(B, "close_after_reflective_learning", "concluded"),
        V(B, state="closed", allowed=[], forms={}),
        T(B, "record_national_review", "closed", 409),  # not from a final state
        S(B, "delay_notice", delay(), status=409),  # every form is locked now
        S(B, "action_plan", action_plan("implemented"), status=409),
    ])
    assert w.states == [
        "referred", "sin_consideration", "rapid_review", "rapid_review_analysis", "rapid_review_sign_off",
        "lcspr_commissioning", "lcspr_in_progress", "lcspr_quality_assurance", "lcspr_in_progress",
        "lcspr_quality_assurance", "lcspr_approval", "pre_publication", "publication_deferred", "pre_publication",
        "published", "action_plan_monitoring", "concluded", "closed",
    ]  # fmt: skip
    final = w.view(B)
    # the national-review decisions are in the state history, each keeping the state it was made in
    recorded = [(h["event"], h["state"]) for h in final["state_history"] if h["event"] in NATIONAL]
    assert recorded == [("record_national_review", "referred"), ("record_no_national_review", "rapid_review"),
                        ("record_national_review", "publication_deferred")]
    assert [h["event"] for h in final["state_history"] if h["event"] not in NATIONAL][1:] == [
        "put_to_crg", "notify_panel", "start_analysis", "submit_for_sign_off", "sign_off_rapid_review",
        "start_lcspr", "submit_draft", "complete_quality_assurance", "submit_draft", "complete_quality_assurance",
        "approve_lcspr", "defer_publication", "resume_publication", "publish", "start_monitoring", "conclude",
        "close_after_reflective_learning",
    ]  # fmt: skip
    clocks_now = {d["name"]: (d["due"], d["status"], d["stopped_on"]) for d in final["deadlines"]}
    assert clocks_now == {
        "sin_notification": ("2026-10-12", "met", "2026-10-07"),
        "rapid_review_report": ("2026-10-28", "met", "2026-10-20"),
        # from the partners' agreement at sign-off (1.1.29), not from the terms of reference
        "lcspr_publication": ("2027-04-20", "met", "2026-11-20"),
        "pre_publication_copies": ("2026-11-11", "met", "2026-11-10"),
        # kept available for a year from publication: taken down the next day
        "publication_availability": ("2027-11-20", "missed", "2026-11-21"),
        # stopped on the event's date, not on the (later, real-time) closure
        "reflective_learning_event": ("2028-11-10", "met", "2026-11-22"),
    }  # fmt: skip
    check_history(w)


def check_history(w: Walk) -> None:
    """Who, role, device and what for every write; ids only, never the child's name or birth date."""
    body = w.client(B).get(w.path("history")).json()
    writes = [e for e in body["entries"] if e["action"] not in ("case.read", "access.refused")]  # refusals: no mutation
    users = {c.user["user_id"]: (c.username, c.user["roles"]) for (url, _), c in Walk._clients.items()
             if url == w.url}
    for e in writes:
        username, roles = users[e["by"]]
        assert e["roles"] == roles and e["device_id"] == f"tablet-{username}", e
        assert e["at"] and e["what"].get("mutation_id"), e
    fired = [(users[e["by"]][0], e["what"]["event"]) for e in writes if e["action"] == "transition.fired"]
    assert ("esx.crg", "sign_off_rapid_review") in fired  # the CRG's decision (1.1.21)
    assert ("esx.scrutineer", "approve_lcspr") in fired  # the last approval fires the step
    recorded = [(users[e["by"]][0], e["what"]["task"]) for e in writes if e["action"] == "task.record"]
    assert ("esx.scrutineer", "scrutineer_review") in recorded
    notes = [e["what"]["evidence"] for e in writes if e["action"] == "task.record" and "note" in e["what"]["evidence"]]
    assert notes and "Content with the decision." not in json.dumps(body)  # which evidence, never the note
    assert ("esx.reviewer", "submit_draft") in fired
    votes = [(users[e["by"]][0], e["what"]["slot"]) for e in writes if e["action"] == "approval.approve"]
    assert votes[:4] == [("esx.la-lead", {"role": "statutory_lead", "sector": "local_authority"}),
                         ("esx.health-lead", {"role": "statutory_lead", "sector": "health"}),
                         ("esx.police-lead", {"role": "statutory_lead", "sector": "police"}),
                         ("esx.scrutineer", {"role": "independent_scrutineer", "sector": None})]
    saves = [e["what"] for e in writes if e["action"] == "submission.save"]
    assert [(s["status"], s["version"]) for s in saves if s["form_id"] == "sin_decision"] == [
        ("draft", 1), ("final", 2), ("final", 3)]  # every save is a revision
    text = json.dumps(body)
    assert CHILD_NAME not in text and CHILD_DOB not in text
    # an agency sees its own activity, not another agency's return
    school = w.client(SCHOOL).get(w.path("history")).json()["entries"]
    assert {e["what"].get("agency_id") for e in school if e["action"] == "submission.save"} == {None, "esx-schools"}


def test_no_lcspr_with_an_explained_omission_and_a_report_sent_back_by_the_scrutineer(walk_server):
    w = Walk(walk_server.url)
    w.open(B, referral(agencies=["esx-schools", "uh-sussex"]))
    to_rapid_review(w)
    # police are not involved: the case does not even exist for them
    problem = w.step(*S(POLICE, "rapid_review_agency_return", agency_return("sussex-police"), status=404))
    assert problem["type"].endswith("/case-not-found")
    w.run([
        S(SCHOOL, "rapid_review_agency_return", agency_return("esx-schools")),
        V(CRG, allowed=[]),  # uh-sussex has not returned
        T(CRG, "start_analysis", "rapid_review", 422),
        # the CRG goes ahead, explaining the missing return in a final report
        S(CRG, "rapid_review_report", rr_report("no_lcspr", omissions=None), final=False),
        T(CRG, "start_analysis", "rapid_review", 422),  # a draft explains nothing
        S(CRG, "rapid_review_report", rr_report("no_lcspr", omissions="The hospital's return is late.")),
        V(CRG, allowed=["start_analysis"]),
        T(CRG, "start_analysis", "rapid_review"),
        T(CRG, "submit_for_sign_off", "rapid_review_analysis"),
        # the scrutineer's review raises concerns and sends the report back (1.1.21)
        K("esx.scrutineer", "scrutineer_review", date="2026-10-21", choice="concerns_raised",
          note="Agency omissions need more detail."),
        T("esx.scrutineer", "return_to_analysis", "rapid_review_sign_off"),
        # the report the partners rejected does not count in this round: it must be submitted again
        V(CRG, state="rapid_review_analysis", allowed=[]),
    ])
    refused = w.step(*T(CRG, "submit_for_sign_off", "rapid_review_analysis", 422))
    assert any("rapid_review_report" in r and "earlier round" in r for r in refused["reasons"]), refused
    blocked = {b["event"]: b["reasons"] for b in w.view(CRG)["blocked_events"]}
    assert any("earlier round" in r for r in blocked["submit_for_sign_off"]), blocked
    w.run([
        S(CRG, "rapid_review_report", rr_report("no_lcspr", omissions="The hospital's return is late; "
                                                "the hospital confirmed no contact in the period.")),
        V(CRG, allowed=["submit_for_sign_off"]),
        T(CRG, "submit_for_sign_off", "rapid_review_analysis"),
        *sign_off_tasks(),
        T(CRG, "sign_off_rapid_review", "rapid_review_sign_off"),
        V(B, state="learning_dissemination", allowed=NATIONAL,
          forms={"learning_briefing": "not_started", "rapid_review_report": "final", "delay_notice": "not_started"}),
        T(B, "complete_dissemination", "learning_dissemination", 422),
        S(B, "learning_briefing", briefing()),
        V(B, allowed=["complete_dissemination", *NATIONAL]),
        T(B, "complete_dissemination", "learning_dissemination"),
        V(B, state="closed", allowed=[], forms={}),
    ])
    assert w.states[-4:] == ["rapid_review_analysis", "rapid_review_sign_off", "learning_dissemination", "closed"]
    deadlines = {d["name"]: d for d in w.view(B)["deadlines"]}
    assert deadlines["rapid_review_report"]["status"] == "met"
    assert deadlines["rapid_review_report"]["stopped_on"] == "2026-10-20"  # sent_to_panel_on


def test_lcspr_approval_rejected_then_returned_for_revision(walk_server):
    w = Walk(walk_server.url)
    w.open(SCHOOL, referral())
    to_lcspr_approval(w)
    w.run([
        T(B, "approve_lcspr", "lcspr_approval", 202),
        A("esx.health-lead", "approve_lcspr"),
        A("esx.scrutineer", "approve_lcspr", "reject", comment="Recommendations are not measurable."),
        V(B, state="lcspr_approval", pending_approvals=None),
        T(SCHOOL, "return_for_revision", "lcspr_approval", 403),
        T(B, "return_for_revision", "lcspr_approval"),
        V(B, state="lcspr_in_progress", allowed=["submit_draft", *NATIONAL]),
        T(B, "submit_draft", "lcspr_in_progress"),
        S(CRG, "lcspr_quality_assurance", qa("approve_for_sign_off")),
        T(CRG, "complete_quality_assurance", "lcspr_quality_assurance"),
        T(CRG, "approve_lcspr", "lcspr_approval", 202),
        *[A(u, "approve_lcspr") for u in SIGNERS],  # a fresh request: everyone votes again
        V(B, state="pre_publication"),
    ])
    rejection = w.view(B)["last_rejection"]
    assert (rejection["event"], rejection["role"], rejection["reasons"]) == (
        "approve_lcspr", "independent_scrutineer", "Recommendations are not measurable.")
    assert w.states[-5:] == ["lcspr_approval", "lcspr_in_progress", "lcspr_quality_assurance", "lcspr_approval",
                             "pre_publication"]


def test_each_qa_round_needs_its_own_qa_form(walk_server):
    """A draft back from QA or from approval gets a fresh check: the last round's QA form (its outcome
    already acted on) does not count again; amending it in this round does."""
    w = Walk(walk_server.url)
    w.open(SCHOOL, referral())
    to_lcspr_in_progress(w)
    w.run([
        T(B, "submit_draft", "lcspr_in_progress"),
        S(CRG, "lcspr_quality_assurance", qa("return_to_reviewer")),
        T(CRG, "complete_quality_assurance", "lcspr_quality_assurance"),
        T(B, "submit_draft", "lcspr_in_progress"),
        # round 2: the form is still final from round 1, but no longer counts
        V(CRG, state="lcspr_quality_assurance", allowed=[], forms={"lcspr_quality_assurance": "final"}),
    ])
    reasons = refused_for(w, CRG, "complete_quality_assurance", "lcspr_quality_assurance",
                          "'lcspr_quality_assurance'", "earlier round", "again")
    assert CHILD_NAME not in str(reasons)
    w.run([
        S(CRG, "lcspr_quality_assurance", qa("approve_for_sign_off")),  # amended: a new final revision
        V(CRG, allowed=["complete_quality_assurance"]),
        T(CRG, "complete_quality_assurance", "lcspr_quality_assurance"),
        V(B, state="lcspr_approval"),
        # approval sends it back: round 3 needs a QA form again (round 2 said approve_for_sign_off)
        T(B, "return_for_revision", "lcspr_approval"),
        T(B, "submit_draft", "lcspr_in_progress"),
        T(B, "record_no_national_review", "lcspr_quality_assurance"),  # a note keeps the round
    ])
    refused_for(w, CRG, "complete_quality_assurance", "lcspr_quality_assurance", "earlier round")
    w.run([
        S(CRG, "lcspr_quality_assurance", qa("approve_for_sign_off")),
        T(B, "record_national_review", "lcspr_quality_assurance"),  # after the new form: still this round
        T(CRG, "complete_quality_assurance", "lcspr_quality_assurance"),
    ])
    assert w.states[-8:] == [
        "lcspr_in_progress", "lcspr_quality_assurance", "lcspr_in_progress", "lcspr_quality_assurance",
        "lcspr_approval", "lcspr_in_progress", "lcspr_quality_assurance", "lcspr_approval",
    ]  # fmt: skip


def test_publication_record_confirmed_again_after_a_deferral(walk_server):
    w = Walk(walk_server.url)
    w.open(SCHOOL, referral())
    to_pre_publication(w)
    w.run([
        S(B, "publication_record", publication(published="2026-11-20", sent="2026-11-10")),
        V(B, allowed=["defer_publication", "publish", *NATIONAL]),
        T(B, "defer_publication", "pre_publication"),
        T(B, "resume_publication", "publication_deferred"),
    ])
    refused_for(w, B, "publish", "pre_publication", "'publication_record'", "earlier round")
    w.run([
        T(B, "defer_publication", "pre_publication"),
        # confirmed while deferred: after the last round ended, so it counts on resuming
        S(B, "publication_record", publication(published="2026-11-20", sent="2026-11-11")),
        T(B, "resume_publication", "publication_deferred"),
        V(B, allowed=["defer_publication", "publish", *NATIONAL]),
        T(B, "publish", "pre_publication"),
        V(B, state="published"),
    ])


def test_notify_panel_refusal_explains_only_the_route_that_fits_the_child(walk_server):
    w = Walk(walk_server.url)
    w.open(SCHOOL, referral())  # not a care leaver
    w.run([T(B, "put_to_crg", "referred"), S(HOS, "sin_decision", sin(abuse_or_neglect_known_or_suspected=False))])
    reasons = refused_for(w, HOS, "notify_panel", "sin_consideration", "abuse or neglect is known or suspected")
    assert not any(r.startswith("An adult care leaver") for r in reasons), reasons
    w.run([S(HOS, "sin_decision", sin()), T(HOS, "notify_panel", "sin_consideration"), V(B, state="rapid_review")])


def test_do_not_notify_goes_to_other_action_then_closed(walk_server):
    w = Walk(walk_server.url)
    w.open(HOS, referral())
    w.run([
        T(B, "put_to_crg", "referred"),
        S(CRG, "sin_decision", sin("do_not_notify")),
        T(HOS, "notify_panel", "sin_consideration", 422),  # the decision says do_not_notify
        V(CRG, allowed=["escalate_to_statutory_leads", "decide_not_to_notify"]),
        T(B, "decide_not_to_notify", "sin_consideration", 403),
        T(CRG, "decide_not_to_notify", "sin_consideration"),
        V(B, state="other_action", allowed=NATIONAL,
          forms={"sin_decision": "final", "delay_notice": "not_started"}),
        V(HOS, allowed=[], forms={}),
        S(HOS, "sin_decision", sin("do_not_notify"), status=403),
        # the alternative action is followed through before the case closes (1.1.3)
        T(B, "close_other_action", "other_action", 422),
        K(B, "alternative_action_completed", date="2026-11-02", note="The single-agency review reported."),
        V(B, allowed=["close_other_action", *NATIONAL]),
        T(B, "close_other_action", "other_action"),
        V(B, state="closed", allowed=[]),
    ])
    assert w.states == ["referred", "sin_consideration", "other_action", "closed"]
    # the SIN clock stopped on entering other_action (today, weeks after aware + 5 working days): missed
    [sin_clock] = w.view(B)["deadlines"]
    assert (sin_clock["name"], sin_clock["due"], sin_clock["status"]) == ("sin_notification", "2026-10-12", "missed")
    assert sin_clock["stopped_on"] > "2026-10-12"


def test_close_other_action_needs_the_alternative_action(walk_server):
    w = Walk(walk_server.url)
    w.open(B, referral())
    no_alternative = sin("do_not_notify")
    del no_alternative["alternative_action"]
    problem = w.run([T(B, "put_to_crg", "referred"),
                     S(CRG, "sin_decision", no_alternative, status=422)])[-1]
    assert "/payload/data/alternative_action" in problem_paths(problem)  # the form itself requires it


def split_decision(w: Walk, decision: str, target: str) -> None:
    event = "notify_panel" if decision == "notify" else "decide_not_to_notify"
    views = [{"row_id": f"lead-{p}", "partner": p, "lead_name": "Lead", "view": v, "reasoning": "Recorded."}
             for p, v in (("local_authority", "notify"), ("health", "notify"), ("police", "do_not_notify"))]
    w.run([
        T(B, "put_to_crg", "referred"),
        T(CRG, "escalate_to_statutory_leads", "sin_consideration"),
        V("esx.la-lead", state="sin_escalated", allowed=[], forms={"sin_decision": "not_started"}),
        S("esx.health-lead", "sin_decision", sin(decision, leads_agreed=False, split_decision=views[:2]), final=False),
        S("esx.la-lead", "sin_decision", sin(decision, leads_agreed=False, split_decision=views)),
        T(HOS, event, "sin_escalated", 202),
    ])
    pending = w.check_view(HOS, state="sin_escalated", allowed=[event])["pending_approvals"]  # may ask again
    assert (pending["event"], pending["target"], pending["you_can_vote"]) == (event, target, False)
    assert [m["sector"] for m in pending["missing"]] == ["local_authority", "health", "police"]
    assert w.view("esx.police-lead")["pending_approvals"]["you_can_vote"] is True
    w.run([
        A("esx.scrutineer", event, status=403),  # not one of the three partners
        A(CRG, event, status=403),
        A("esx.health-lead", event),
        A("esx.health-lead", event, status=409),
        A("esx.la-lead", event),
        V(B, state="sin_escalated"),
        T(HOS, event, "sin_escalated", 202),  # asking again keeps the votes
        A("esx.police-lead", event),
        V(B, state=target),
    ])
    assert w.states == ["referred", "sin_consideration", "sin_escalated", target]


def test_split_decision_escalated_the_leads_decide_to_notify(walk_server):
    w = Walk(walk_server.url)
    w.open()
    split_decision(w, "notify", "rapid_review")
    pending = [e for e in w.client(B).get(w.path("history")).json()["entries"] if e["action"] == "approval.approve"]
    assert [e["what"]["slot"]["sector"] for e in pending] == ["health", "local_authority", "police"]


def test_split_decision_escalated_the_leads_decide_not_to_notify(walk_server):
    w = Walk(walk_server.url)
    w.open()
    split_decision(w, "do_not_notify", "other_action")


def test_looked_after_child_death_needs_sos_and_ofsted(walk_server):
    w = Walk(walk_server.url)
    w.open(SCHOOL, referral(death="died", looked_after=True, looked_after_by="East Sussex County Council"))
    # the form no longer asks (a seriously harmed looked-after child needs no dates): the case type does
    refused = w.run([T(B, "put_to_crg", "referred"), S(HOS, "sin_decision", sin(child_status="looked_after")),
                     T(HOS, "notify_panel", "sin_consideration", 422)])[-1]
    assert any("SoS and Ofsted" in r for r in refused["reasons"])
    # the form says "none", the referral says looked after: the guard still asks for both dates
    refused = w.run([S(HOS, "sin_decision", sin()), T(HOS, "notify_panel", "sin_consideration", 422)])[-1]
    assert any("SoS and Ofsted" in r for r in refused["reasons"])
    w.run([
        S(HOS, "sin_decision", sin(child_status="looked_after", sos_notified_on="2026-10-07",
                                   ofsted_notified_on="2026-10-07")),
        T(HOS, "notify_panel", "sin_consideration"),
        V(B, state="rapid_review"),
    ])


def test_1_1_16_a_seriously_harmed_looked_after_child_is_notified_without_sos_and_ofsted_dates(walk_server):
    w = Walk(walk_server.url)
    w.open(SCHOOL, referral(looked_after=True, looked_after_by="East Sussex County Council"))
    w.run([T(B, "put_to_crg", "referred"), S(HOS, "sin_decision", sin(child_status="looked_after")),
           T(HOS, "notify_panel", "sin_consideration"), V(B, state="rapid_review")])


def test_1_1_16_an_adult_care_leaver_is_told_to_the_sos_and_ofsted_with_no_panel_route_and_can_be_reviewed(walk_server):
    # born 2006-03-01, incident 2026-10-03: aged 20
    w = Walk(walk_server.url)
    w.open(SCHOOL, referral(care_leaver=True, date_of_birth="2006-03-01", death="died"))
    told = {"sos_notified_on": "2026-10-07", "ofsted_notified_on": "2026-10-07"}
    care_leaver = sin("do_not_notify", child_status="care_leaver", alternative_action="local_cspr",
                      lcspr_agreed_on="2026-10-09", **told)
    no_ofsted = {k: v for k, v in care_leaver.items() if k != "ofsted_notified_on"}
    # a Panel notification is refused with the care-leaver route's reason only
    refused = w.run([T(B, "put_to_crg", "referred"), S(HOS, "sin_decision", sin(child_status="care_leaver", **told)),
                     T(HOS, "notify_panel", "sin_consideration", 422)])[-1]
    assert [r for r in refused["reasons"] if r.startswith("An adult care leaver (18 to 24)")], refused
    assert not any("SIN decision must say notify" in r for r in refused["reasons"]), refused
    refused = w.run([S(HOS, "sin_decision", no_ofsted), T(HOS, "decide_not_to_notify", "sin_consideration", 422)])[-1]
    assert any("Secretary of State and Ofsted" in r for r in refused["reasons"]), refused
    w.run([
        S(HOS, "sin_decision", care_leaver),
        T(HOS, "decide_not_to_notify", "sin_consideration"),
        # the partners may still learn from it: here an LCSPR (1.1.16)
        V(CRG, state="other_action", allowed=["commission_lcspr"]),
        T(CRG, "commission_lcspr", "other_action"),
        V(B, state="lcspr_commissioning"),
    ])
    assert w.states == ["referred", "sin_consideration", "other_action", "lcspr_commissioning"]  # no rapid review
    clocks_now = {d["name"]: d["due"] for d in w.view(B)["deadlines"]}
    assert clocks_now == {"lcspr_publication": "2027-04-09"}  # no SIN clock, no rapid-review clock
    # a care leaver of 17 follows the SIN route to a rapid review
    young = Walk(walk_server.url)
    young.open(SCHOOL, referral(care_leaver=True, date_of_birth="2009-06-01"))
    young.run([T(B, "put_to_crg", "referred"), S(HOS, "sin_decision", sin(child_status="care_leaver")),
               T(HOS, "notify_panel", "sin_consideration"), V(B, state="rapid_review")])


def test_national_review_decision_is_recorded_from_any_open_state(walk_server):
    w = Walk(walk_server.url)
    w.open()
    for step in (
        [], [T(B, "put_to_crg", "referred")], [T(CRG, "escalate_to_statutory_leads", "sin_consideration")],
    ):
        w.run(step)
        state = w.view(B)["state"]
        before = w.version
        w.run([T(CRG, "record_national_review", state, 403),
               T(B, "record_national_review", state, comment="The Panel will run a national review."),
               T(B, "record_no_national_review", state), V(B, state=state)])
        assert w.version == before + 2 and w.states[-1] == state
    history = w.client(B).get(w.path("history")).json()["entries"]
    recorded = [e["what"] for e in history if e["action"] == "transition.fired"
                and e["what"]["event"].startswith("record_")]
    assert [(r["source"], r["target"]) for r in recorded][::2] == [
        ("referred", "referred"), ("sin_consideration", "sin_consideration"), ("sin_escalated", "sin_escalated")]
    assert all("The Panel" not in json.dumps(r) for r in recorded)  # the comment is not echoed into the audit


def test_submissions_draft_final_revisions_versions_and_agency_returns(walk_server):
    w = Walk(walk_server.url)
    w.open(SCHOOL, referral(agencies=["esx-schools", "uh-sussex"]))
    to_rapid_review(w)
    form = "rapid_review_agency_return"
    saved = w.run([
        S(SCHOOL, form, agency_return("esx-schools"), final=False),
        S(SCHOOL, form, agency_return("esx-schools", "Second draft."), final=False),
        S(SCHOOL, form, agency_return("esx-schools")),
    ])
    assert [s["version"] for s in saved] == [1, 2, 3] and len({s["submission_id"] for s in saved}) == 1
    # a final is immutable: no going back to draft; it is amended by a new final revision
    problem = w.step(*S(SCHOOL, form, agency_return("esx-schools"), final=False, status=409))
    assert problem["type"].endswith("/final-is-immutable")
    amended = w.step(*S(SCHOOL, form, agency_return("esx-schools", "Amended after a records check.")))
    assert amended["version"] == 4 and amended["submission_id"] == saved[0]["submission_id"]
    # one return per involved agency: the practitioner's save is a revision of the hospital's one return
    first = w.step(*S(HEALTH, form, agency_return("uh-sussex")))
    again = w.step(*S("esx.health-visitor", form, agency_return("uh-sussex", "Practitioner's addition.")))
    assert again["submission_id"] == first["submission_id"] and again["version"] == first["version"] + 1
    returns = [s for s in w.view(B)["submissions"] if s["form_id"] == form]
    assert sorted((s["agency_id"], s["version"]) for s in returns) == [("esx-schools", 4), ("uh-sussex", 2)]
    assert [s["agency_id"] for s in w.view(HEALTH)["submissions"] if s["form_id"] == form] == ["uh-sussex"]
    # another agency's return: refused; an agency not involved cannot even see the case
    assert w.step(*S(SCHOOL, form, agency_return("uh-sussex"), status=403))["type"].endswith("/not-your-agency")
    assert w.step(*S(POLICE, form, agency_return("sussex-police"), status=404))["type"].endswith("/case-not-found")
    # form_id@version pinned: an unknown version or form is refused with a clear problem
    unknown = w.step(*S(SCHOOL, form, agency_return("esx-schools"), version=99, status=422))
    assert unknown["type"].endswith("/unknown-form-version") and problem_paths(unknown) == {"/payload/form_version"}
    assert sorted(unknown["available_versions"]) == [1, 2]
    nosuch = w.step(*(SCHOOL, "POST", "submissions", {"form_id": "no_such_form", "form_version": 1, "data": {},
                                                     "status": "final"}, 422))
    assert nosuch["type"].endswith("/unknown-form") and problem_paths(nosuch) == {"/payload/form_id"}
    # invalid data names every bad field, writes nothing
    bad = agency_return("esx-schools")
    bad["contact"]["email"], bad["child"]["date_of_birth"] = "nope", "2 April 2023"
    before = w.view(B)["version"]
    problem = w.step(*S(SCHOOL, form, bad, status=422))
    assert problem_paths(problem) == {"/payload/data/contact/email", "/payload/data/child/date_of_birth"}
    assert w.view(B)["version"] == before


def test_the_referring_agency_sees_the_case_but_returns_only_if_involved(walk_server):
    w = Walk(walk_server.url)
    w.open(SCHOOL, referral(agencies=["uh-sussex"]))  # the school refers; only the hospital is asked
    to_rapid_review(w)
    w.check_view(SCHOOL, state="rapid_review", allowed=[], forms={})
    problem = w.step(*S(SCHOOL, "rapid_review_agency_return", agency_return("esx-schools"), status=403))
    assert problem["type"].endswith("/agency-not-involved")
    w.run([S(HEALTH, "rapid_review_agency_return", agency_return("uh-sussex")), V(CRG, allowed=["start_analysis"])])


# -- deadlines over HTTP with a pinned clock --------------------------------------------------------
@pytest.fixture(scope="module", params=stores("pg-pinned"))
def pinned_app(request, tmp_path_factory):
    """In this process, so that the test can pin its clock: on PostgreSQL one process, not four."""
    data = tmp_path_factory.mktemp("pinned") / "data"
    target, _ = store_for(request, request.param, data)
    app = InProcessApp(data, dt.date(2026, 12, 21), store_url=None if request.param == "embedded" else target)
    yield app
    app.close()


@pytest.fixture
def pinned(pinned_app):
    """The shared pinned app, its clock set to the test's first day (each test opens its own cases)."""

    def start(day: str) -> InProcessApp:
        pinned_app.on(day)
        return pinned_app

    return start


ENGLAND = holidays.country_holidays("GB", subdiv="ENG", years=range(2026, 2028))


def cross_check(start: str, n: int) -> str:
    """The nth working day after ``start`` counted with the ``holidays`` package (a second opinion)."""
    day, left = dt.date.fromisoformat(start), n
    while left:
        day += dt.timedelta(days=1)
        left -= day.weekday() < 5 and day not in ENGLAND
    return day.isoformat()


def clocks(w: Walk, user: str = B) -> dict[str, tuple[str, str]]:
    return {d["name"]: (d["due"], d["status"]) for d in w.view(user)["deadlines"]}


def overdue_ids(w: Walk, flag: str = "true") -> set[str]:
    r = w.client(B).get("/api/v1/cases", params={"overdue": flag})
    assert r.status_code == 200, r.text
    return {c["case_id"] for c in r.json()["cases"]}


def test_sin_and_rapid_review_clocks_across_christmas_and_new_year(pinned):
    app = pinned("2026-12-21")
    w = Walk(app.url)
    w.open(SCHOOL, referral(aware="2026-12-21", incident="2026-12-19"))
    # Mon 21 Dec + 5 working days: 22, 23, 24, (25 Christmas, 26 Sat, 27 Sun, 28 Boxing Day
    # substitute), 29, 30 -> Wed 30 Dec 2026
    assert clocks(w) == {"sin_notification": ("2026-12-30", "pending")} and cross_check("2026-12-21", 5) == "2026-12-30"
    assert clocks(w, SCHOOL) == clocks(w)  # the referrer sees the same clock
    for day, status in (("2026-12-23", "pending"), ("2026-12-24", "due_soon"),  # 2 working days before: 24, 29
                        ("2026-12-30", "due_soon"), ("2026-12-31", "overdue")):
        app.on(day)
        assert clocks(w)["sin_notification"] == ("2026-12-30", status), day
        assert (w.case_id in overdue_ids(w)) == (status == "overdue"), day
        assert (w.case_id in overdue_ids(w, "false")) == (status != "overdue"), day
    # the referrer amends the date the LA became aware: the clock is recomputed from it
    # Wed 23 Dec + 5: 24, 29, 30, 31, (1 Jan New Year's Day, 2-3 weekend), 4 -> Mon 4 Jan 2027
    amended = referral(aware="2026-12-23", incident="2026-12-19")
    w.run([S(SCHOOL, "crg_referral", amended)])
    assert clocks(w)["sin_notification"] == ("2027-01-04", "due_soon") and cross_check("2026-12-23", 5) == "2027-01-04"
    assert w.case_id not in overdue_ids(w)
    app.on("2027-01-05")
    assert clocks(w)["sin_notification"] == ("2027-01-04", "overdue") and w.case_id in overdue_ids(w)
    # notified a day late: the clock stops as missed; the rapid-review clock starts on the SIN date
    # Tue 5 Jan 2027 + 15 working days (no holidays): 6-8, 11-15, 18-22, 25, 26 -> Tue 26 Jan 2027
    w.run([
        T(B, "put_to_crg", "referred"),
        S(B, "delay_notice", delay("sin_notification", "2027-01-04", "2027-01-05")),
        S(HOS, "sin_decision", sin(notified="2027-01-05", decision_date="2027-01-05")),
        T(HOS, "notify_panel", "sin_consideration"),
    ])
    assert clocks(w) == {"sin_notification": ("2027-01-04", "missed"), "rapid_review_report": ("2027-01-26", "pending")}
    assert cross_check("2027-01-05", 15) == "2027-01-26" and w.case_id not in overdue_ids(w)


def test_a_sin_in_time_and_the_rapid_review_clock_over_new_year(pinned):
    app = pinned("2026-12-21")
    w = Walk(app.url)
    w.open(SCHOOL, referral(aware="2026-12-21", incident="2026-12-19", agencies=["esx-schools"]))
    app.on("2026-12-23")
    w.run([T(B, "put_to_crg", "referred"), S(HOS, "sin_decision", sin(notified="2026-12-23")),
           T(HOS, "notify_panel", "sin_consideration")])
    # Wed 23 Dec 2026 + 15: 24, 29, 30, 31, 4-8 Jan, 11-15, 18 -> Mon 18 Jan 2027 (25, 28 Dec, 1 Jan skipped)
    assert clocks(w) == {"sin_notification": ("2026-12-30", "met"), "rapid_review_report": ("2027-01-18", "pending")}
    assert cross_check("2026-12-23", 15) == "2027-01-18"
    app.on("2027-01-14")
    assert clocks(w)["rapid_review_report"] == ("2027-01-18", "due_soon")  # 2 working days before: 15, 14
    app.on("2027-01-19")
    assert clocks(w)["rapid_review_report"] == ("2027-01-18", "overdue") and w.case_id in overdue_ids(w)
    late = rr_report("no_lcspr", sent="2027-01-19") | {"report_date": "2027-01-19"}
    w.run([S(SCHOOL, "rapid_review_agency_return", agency_return("esx-schools")),
           S(CRG, "rapid_review_report", late)])
    assert clocks(w)["rapid_review_report"] == ("2027-01-18", "missed") and w.case_id not in overdue_ids(w)


def test_clocks_across_easter_2027_and_a_retired_form_version(pinned):
    app = pinned("2027-03-10")
    w = Walk(app.url)
    w.open(SCHOOL, referral())
    to_pre_publication(w)
    # agreed at sign-off Tue 20 Oct 2026 + 6 calendar months -> Tue 20 Apr 2027
    assert clocks(w)["lcspr_publication"] == ("2027-04-20", "pending")
    # planned publication Tue 6 Apr 2027, copies 7 working days before: 5 Apr, 2, 1, 31 Mar, 30,
    # (29 Easter Monday, 26 Good Friday), 25, 24 -> Wed 24 Mar 2027
    w.run([S(B, "publication_record", publication(planned="2027-04-06"))])
    assert clocks(w)["pre_publication_copies"] == ("2027-03-24", "pending")
    for day, status in (("2027-03-19", "pending"), ("2027-03-22", "due_soon"), ("2027-03-25", "overdue")):
        app.on(day)
        assert clocks(w)["pre_publication_copies"] == ("2027-03-24", status), day
    w.run([S(B, "publication_record", publication(planned="2027-04-06", sent="2027-03-25"))])
    assert clocks(w)["pre_publication_copies"] == ("2027-03-24", "missed")
    # a new case on Thu 25 Mar 2027: + 5 working days skips Good Friday and Easter Monday
    # 30, 31 Mar, 1, 2, 5 Apr -> Mon 5 Apr 2027; the SIN on the same day: + 15 -> Mon 19 Apr 2027
    easter = Walk(app.url)
    easter.open(SCHOOL, referral(aware="2027-03-25", incident="2027-03-24"))
    easter.run([T(B, "put_to_crg", "referred"),
                S(HOS, "sin_decision", sin(notified="2027-03-25", decision_date="2027-03-25")),
                T(HOS, "notify_panel", "sin_consideration")])
    assert clocks(easter) == {"sin_notification": ("2027-04-05", "met"),
                              "rapid_review_report": ("2027-04-19", "pending")}
    assert (cross_check("2027-03-25", 5), cross_check("2027-03-25", 15)) == ("2027-04-05", "2027-04-19")
    # crg_referral v1 is accepted until 31 Mar 2027; from 1 Apr it is retired and refused by name
    fresh = Walk(app.url)
    fresh.open(SCHOOL, referral(aware="2027-03-25", incident="2027-03-24"))
    v1 = referral(version=1, aware="2027-03-25", incident="2027-03-24")
    fresh.run([S(SCHOOL, "crg_referral", v1, version=1)])
    mine = next(f for f in fresh.view(SCHOOL)["forms"] if f["form_id"] == "crg_referral")
    assert (mine["version"], mine["latest_version"], mine["status"]) == (1, latest("crg_referral"), "final")
    app.on("2027-04-01")
    retired = fresh.step(*S(SCHOOL, "crg_referral", v1, version=1, status=422))
    assert retired["type"].endswith("/retired-form-version") and problem_paths(retired) == {"/payload/form_version"}
    assert "2027-03-31" in retired["detail"]
    fresh.run([S(SCHOOL, "crg_referral", referral(aware="2027-03-25", incident="2027-03-24"))])  # the current one
    # every save was kept as a revision, each pinned to its form version (read from the real store)
    sub = next(s for s in fresh.view(B)["submissions"] if s["form_id"] == "crg_referral")
    revisions = [app.services.store.get("revisions", f"{sub['submission_id']}@{n}").data
                 for n in range(1, sub["version"] + 1)]
    assert [(r["revision"], r["form_version"], r["status"]) for r in revisions] == [
        (1, latest("crg_referral"), "final"), (2, 1, "final"), (3, latest("crg_referral"), "final")]
    assert {r["device_id"] for r in revisions} == {f"tablet-{SCHOOL}"}
