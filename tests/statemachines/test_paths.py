"""The main paths of serious_incident walked through the pure engine (python-statemachine)."""

from __future__ import annotations

import pytest

from statemachines import TransitionRefused, Vote

from .helpers import (
    ALL_FOUR,
    ALL_RETURNS,
    BUSINESS,
    CRG,
    HOS,
    ONE_MISSING,
    REFERRAL,
    REGISTRY,
    REVIEWER,
    SI,
    SIN_NO,
    SIN_NOTIFY,
    THREE_LEADS,
    referral,
)


def walk(steps, forms, start="referred"):
    state = start
    seen = [state]
    for event, actor, context, votes in steps:
        state = SI.fire(state, event, actor=actor, forms=forms, context=context, votes=votes)
        seen.append(state)
    return seen


def test_registry_shape():
    assert [ct.case_type for ct in REGISTRY.case_types()] == [
        "care_leaver_death_notification", "child_death_jar_referral", "looked_after_child_death_notification",
        "national_review_contribution", "practice_learning_review", "serious_incident"]
    assert SI.initial_state == "referred"
    assert SI.definition.title == "Serious child safeguarding incident"
    assert set(SI.states) == {
        "referred", "sin_consideration", "sin_escalated", "other_action", "rapid_review", "rapid_review_analysis",
        "rapid_review_sign_off", "learning_dissemination", "lcspr_commissioning", "lcspr_in_progress",
        "lcspr_quality_assurance", "lcspr_approval", "pre_publication", "publication_deferred", "published",
        "action_plan_monitoring", "concluded", "closed",
    }  # fmt: skip
    assert REGISTRY.get("serious_incident", 1) is SI
    with pytest.raises(KeyError):
        REGISTRY.get("no_such_type")
    with pytest.raises(KeyError):
        REGISTRY.get("serious_incident", 99)


def test_forms_open_per_state():
    assert SI.open_forms("referred") == [
        ("crg_referral", ("agency_safeguarding_lead", "business_team", "la_head_of_safeguarding")),
        ("delay_notice", ("business_team",)),
    ]
    assert SI.form_open("rapid_review_agency_return", "rapid_review", ["agency_safeguarding_lead"])
    assert not SI.form_open("rapid_review_agency_return", "rapid_review", ["business_team"])
    for state in SI.states:
        assert SI.form_open("delay_notice", state, ["business_team"]) == (not SI.is_final(state))


def test_full_lcspr_path_to_concluded():
    forms = {
        "crg_referral": REFERRAL,
        "sin_decision": SIN_NOTIFY,
        "rapid_review_report": {"lcspr_decision": "commission_lcspr"},
        "lcspr_terms_of_reference": {"commissioned_on": "2027-02-01"},
        "lcspr_quality_assurance": {"outcome": "approve_for_sign_off"},
        "publication_record": {"planned_publication_date": "2027-07-20", "published_on": "2027-07-20"},
        "action_plan": {"actions": [{"status": "implemented"}, {"status": "implemented"}],
                        "reflective_learning_outcome": "held", "reflective_learning_on": "2029-09-01"},
    }
    steps = [
        ("put_to_crg", BUSINESS, None, ()),
        ("notify_panel", HOS, None, ()),
        ("start_analysis", BUSINESS, ALL_RETURNS, ()),
        ("submit_for_sign_off", CRG, None, ()),
        ("sign_off_rapid_review", BUSINESS, None, ALL_FOUR),
        ("start_lcspr", CRG, None, ()),
        ("submit_draft", REVIEWER, None, ()),
        ("complete_quality_assurance", CRG, None, ()),
        ("approve_lcspr", BUSINESS, None, ALL_FOUR),
        ("defer_publication", BUSINESS, None, ()),
        ("resume_publication", BUSINESS, None, ()),
        ("publish", BUSINESS, None, ()),
        ("start_monitoring", BUSINESS, None, ()),
        ("conclude", BUSINESS, None, ()),
        ("close_after_reflective_learning", BUSINESS, None, ()),
    ]
    assert walk(steps, forms) == [
        "referred", "sin_consideration", "rapid_review", "rapid_review_analysis", "rapid_review_sign_off",
        "lcspr_commissioning", "lcspr_in_progress", "lcspr_quality_assurance", "lcspr_approval", "pre_publication",
        "publication_deferred", "pre_publication", "published", "action_plan_monitoring", "concluded", "closed",
    ]  # fmt: skip


def test_quality_assurance_returns_to_reviewer():
    forms = {"lcspr_quality_assurance": {"outcome": "return_to_reviewer"}}
    assert SI.fire("lcspr_quality_assurance", "complete_quality_assurance", actor=CRG, forms=forms) == (
        "lcspr_in_progress"
    )


def test_no_lcspr_path_to_closed():
    forms = {
        "crg_referral": REFERRAL,
        "sin_decision": SIN_NOTIFY,
        "rapid_review_report": {"lcspr_decision": "no_lcspr", "omissions_explained": "Police return not received"},
        "learning_briefing": {"summary": "..."},
    }
    steps = [
        ("put_to_crg", BUSINESS, None, ()),
        ("notify_panel", HOS, None, ()),
        ("start_analysis", CRG, ONE_MISSING, ()),  # omission explained in the report
        ("submit_for_sign_off", CRG, None, ()),
        ("sign_off_rapid_review", CRG, None, ALL_FOUR),
        ("complete_dissemination", BUSINESS, None, ()),
    ]
    assert walk(steps, forms)[-3:] == ["rapid_review_sign_off", "learning_dissemination", "closed"]


def test_do_not_notify_path():
    forms = {"crg_referral": REFERRAL, "sin_decision": SIN_NO}
    steps = [
        ("put_to_crg", BUSINESS, None, ()),
        ("decide_not_to_notify", HOS, None, ()),
        ("close_other_action", BUSINESS, None, ()),
    ]
    assert walk(steps, forms) == ["referred", "sin_consideration", "other_action", "closed"]


def test_split_escalation_the_three_partners_decide():
    forms = {"crg_referral": REFERRAL, "sin_decision": SIN_NOTIFY}
    # escalating is the CRG's (or business team's) call; no approval needed
    assert SI.fire("sin_consideration", "escalate_to_statutory_leads", actor=CRG, forms=forms) == "sin_escalated"
    # in sin_escalated the notification waits for the three partners
    d = SI.evaluate("sin_escalated", "notify_panel", HOS, forms, votes=THREE_LEADS[:2])
    assert d.allowed and d.waiting_for_approvals and not d.complete
    assert d.target == "rapid_review"
    assert [s.sector for s in d.approvals_needed] == ["local_authority", "health", "police"]
    assert "statutory_lead (police)" in d.reasons[0]
    with pytest.raises(TransitionRefused):
        SI.fire("sin_escalated", "notify_panel", actor=HOS, forms=forms, votes=THREE_LEADS[:2])
    # two votes from health do not make up for police
    two_health = (*THREE_LEADS[:2], Vote("statutory_lead", "health", "approve", "health-2"))
    with pytest.raises(TransitionRefused):
        SI.fire("sin_escalated", "notify_panel", actor=HOS, forms=forms, votes=two_health)
    # police rejects: refused with a reason, the case stays in sin_escalated
    police_no = (*THREE_LEADS[:2], Vote("statutory_lead", "police", "reject", "police"))
    with pytest.raises(TransitionRefused) as exc:
        SI.fire("sin_escalated", "notify_panel", actor=HOS, forms=forms, votes=police_no)
    assert exc.value.state == "sin_escalated"
    assert [p.kind for p in exc.value.decision.problems] == ["approval_rejected"]
    assert "police" in exc.value.reasons[0]
    assert SI.fire("sin_escalated", "notify_panel", actor=HOS, forms=forms, votes=THREE_LEADS) == "rapid_review"
    # the leads may equally decide not to notify: again all three approve
    no = {**forms, "sin_decision": SIN_NO}
    assert SI.evaluate("sin_escalated", "decide_not_to_notify", HOS, no).waiting_for_approvals
    assert SI.fire("sin_escalated", "decide_not_to_notify", actor=HOS, forms=no, votes=THREE_LEADS) == "other_action"


CARE_LEAVER_SIN = {
    **SIN_NOTIFY,
    "child_status": "care_leaver",
    "sos_notified_on": "2027-01-04",
    "ofsted_notified_on": "2027-01-04",
}


def test_care_leaver_aged_18_to_24_is_notified_and_closed_without_a_rapid_review():
    # born 2006-03-01, died 2026-12-19: aged 20
    forms = {"crg_referral": referral(care_leaver=True, date_of_birth="2006-03-01"), "sin_decision": CARE_LEAVER_SIN}
    assert SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms) == "closed"
    # without the SoS/Ofsted dates the care leaver path is refused, and it never opens a rapid review
    forms["sin_decision"] = {**CARE_LEAVER_SIN, "ofsted_notified_on": None}
    with pytest.raises(TransitionRefused) as exc:
        SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms)
    assert any("Ofsted" in r for r in exc.value.reasons)
    # the day before the 25th birthday is still within "up to and including 24"
    forms = {
        "crg_referral": {**referral(care_leaver=True, date_of_birth="2001-12-20"), "incident_date": "2026-12-19"},
        "sin_decision": CARE_LEAVER_SIN,
    }
    assert SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms) == "closed"
    # aged 25: neither the care-leaver notification nor a SIN
    forms["crg_referral"] = {**forms["crg_referral"], "incident_date": "2026-12-20"}
    with pytest.raises(TransitionRefused):
        SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms)


def test_care_leaver_under_18_follows_the_sin_route():
    # a care leaver of 17: the SIN criteria apply (1.1.16), so it is a rapid review, not closure
    forms = {"crg_referral": referral(care_leaver=True, date_of_birth="2009-06-01"), "sin_decision": CARE_LEAVER_SIN}
    assert SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms) == "rapid_review"
    # ...and without both criteria it is neither
    no_abuse = {**CARE_LEAVER_SIN, "abuse_or_neglect_known_or_suspected": False}
    with pytest.raises(TransitionRefused):
        SI.fire("sin_consideration", "notify_panel", actor=HOS, forms={**forms, "sin_decision": no_abuse})


def test_looked_after_child_death_needs_sos_and_ofsted_dates():
    died = {**referral(looked_after=True), "death_or_serious_harm": "died"}
    forms = {"crg_referral": died, "sin_decision": {**SIN_NOTIFY, "child_status": "looked_after"}}
    with pytest.raises(TransitionRefused) as exc:
        SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms)
    assert any("SoS and Ofsted" in r for r in exc.value.reasons)
    dates = {"sos_notified_on": "2026-12-22", "ofsted_notified_on": "2026-12-22"}
    forms["sin_decision"] = {**forms["sin_decision"], **dates}
    assert SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms) == "rapid_review"
    # serious harm (not death) of a looked-after child: the SIN alone
    harmed = {"crg_referral": referral(looked_after=True), "sin_decision": SIN_NOTIFY}
    assert SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=harmed) == "rapid_review"


def test_national_review_decision_is_recorded_in_any_open_state():
    for state in SI.states:
        events = SI.allowed_events(state, BUSINESS)
        if SI.is_final(state):
            assert "record_national_review" not in events
            continue
        assert {"record_national_review", "record_no_national_review"} <= set(events)
        assert SI.fire(state, "record_national_review", actor=BUSINESS, forms={}) == state
        assert SI.fire(state, "record_no_national_review", actor=BUSINESS, forms={}) == state
        assert SI.evaluate(state, "record_national_review", BUSINESS, {}).target == state
    with pytest.raises(TransitionRefused) as exc:
        SI.fire("rapid_review", "record_national_review", actor=CRG, forms={})
    assert exc.value.decision.forbidden
    # it is the last of the business team's events, so the main step comes first
    assert SI.allowed_events("referred", BUSINESS)[0] == "put_to_crg"


def test_second_case_type_walks():
    ct = REGISTRY.get("care_leaver_death_notification", 1)
    forms = {
        "crg_referral": {"child": {"care_leaver": True}},
        "sin_decision": {"sos_notified_on": "2027-01-04", "ofsted_notified_on": "2027-01-05"},
    }
    state = ct.fire("referred", "consider_notification", actor=BUSINESS, forms=forms)
    assert ct.fire(state, "record_notifications", actor=HOS, forms=forms) == "closed"
