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
)


def walk(steps, forms, start="referred"):
    state = start
    seen = [state]
    for event, actor, context, votes in steps:
        state = SI.fire(state, event, actor=actor, forms=forms, context=context, votes=votes)
        seen.append(state)
    return seen


def test_registry_shape():
    assert [ct.case_type for ct in REGISTRY.case_types()] == ["care_leaver_death_notification", "serious_incident"]
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
        "action_plan": {"actions": [{"status": "implemented"}, {"status": "implemented"}]},
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
    ]
    assert walk(steps, forms) == [
        "referred", "sin_consideration", "rapid_review", "rapid_review_analysis", "rapid_review_sign_off",
        "lcspr_commissioning", "lcspr_in_progress", "lcspr_quality_assurance", "lcspr_approval", "pre_publication",
        "publication_deferred", "pre_publication", "published", "action_plan_monitoring", "concluded",
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


def test_split_escalation_needs_the_three_partners():
    forms = {"crg_referral": REFERRAL, "sin_decision": SIN_NOTIFY}
    d = SI.evaluate("sin_consideration", "escalate_to_statutory_leads", CRG, forms, votes=THREE_LEADS[:2])
    assert d.allowed and d.waiting_for_approvals and not d.complete
    assert "statutory_lead (police)" in d.reasons[0]
    with pytest.raises(TransitionRefused):
        SI.fire("sin_consideration", "escalate_to_statutory_leads", actor=CRG, forms=forms, votes=THREE_LEADS[:2])
    # two votes from health do not make up for police
    two_health = (*THREE_LEADS[:2], Vote("statutory_lead", "health", "approve", "health-2"))
    with pytest.raises(TransitionRefused):
        SI.fire("sin_consideration", "escalate_to_statutory_leads", actor=CRG, forms=forms, votes=two_health)
    state = SI.fire("sin_consideration", "escalate_to_statutory_leads", actor=CRG, forms=forms, votes=THREE_LEADS)
    assert state == "sin_escalated"
    assert SI.fire(state, "notify_panel", actor=HOS, forms=forms) == "rapid_review"
    no = {**forms, "sin_decision": SIN_NO}
    assert SI.fire("sin_escalated", "decide_not_to_notify", actor=HOS, forms=no) == "other_action"


def test_care_leaver_notification_closes():
    sin = {**SIN_NOTIFY, "child_status": "care_leaver", "sos_notified_on": "2027-01-04",
           "ofsted_notified_on": "2027-01-04"}  # fmt: skip
    forms = {"crg_referral": {**REFERRAL, "child": {"care_leaver": True}}, "sin_decision": sin}
    assert SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms) == "closed"
    # without the SoS/Ofsted dates the care leaver path is refused, and it never opens a rapid review
    forms["sin_decision"] = {**sin, "ofsted_notified_on": None}
    with pytest.raises(TransitionRefused) as exc:
        SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms)
    assert any("Ofsted" in r for r in exc.value.reasons)


def test_looked_after_child_needs_sos_and_ofsted_dates():
    forms = {"crg_referral": {**REFERRAL, "child": {"looked_after": True}}, "sin_decision": SIN_NOTIFY}
    with pytest.raises(TransitionRefused):
        SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms)
    forms["sin_decision"] = {**SIN_NOTIFY, "sos_notified_on": "2026-12-22", "ofsted_notified_on": "2026-12-22"}
    assert SI.fire("sin_consideration", "notify_panel", actor=HOS, forms=forms) == "rapid_review"


def test_second_case_type_walks():
    ct = REGISTRY.get("care_leaver_death_notification")
    forms = {
        "crg_referral": {"child": {"care_leaver": True}},
        "sin_decision": {"sos_notified_on": "2027-01-04", "ofsted_notified_on": "2027-01-05"},
    }
    state = ct.fire("referred", "consider_notification", actor=BUSINESS, forms=forms)
    assert ct.fire(state, "record_notifications", actor=HOS, forms=forms) == "closed"
