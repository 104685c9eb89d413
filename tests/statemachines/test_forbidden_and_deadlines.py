"""Refused moves (role, guard, form, approvals) and the statutory clocks over bank holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from statemachines import TransitionRefused, Vote

from .helpers import (
    ALL_FOUR,
    BUSINESS,
    CRG,
    HOS,
    NOBODY,
    ONE_MISSING,
    REFERRAL,
    SI,
    SIN_NOTIFY,
    THREE_LEADS,
)

D = dt.date


def refused(state, event, actor, forms, context=None, votes=()):
    with pytest.raises(TransitionRefused) as exc:
        SI.fire(state, event, actor=actor, forms=forms, context=context, votes=votes)
    return exc.value


def test_wrong_role_is_forbidden():
    err = refused("sin_consideration", "notify_panel", CRG, {"crg_referral": REFERRAL, "sin_decision": SIN_NOTIFY})
    assert err.decision.forbidden
    assert any("la_head_of_safeguarding" in r for r in err.reasons)
    assert refused("referred", "put_to_crg", NOBODY, {"crg_referral": REFERRAL}).decision.forbidden


def test_missing_form_is_refused():
    err = refused("referred", "put_to_crg", BUSINESS, {})
    assert [p.kind for p in err.decision.problems] == ["form_missing"]
    err = refused("learning_dissemination", "complete_dissemination", BUSINESS, {})
    assert "learning_briefing" in err.reasons[0]


@pytest.mark.parametrize(
    "change",
    [
        {"decision": "do_not_notify"},
        {"child_died_or_seriously_harmed": False},
        {"abuse_or_neglect_known_or_suspected": False},
        {"notified_on": None},
    ],
)
def test_failed_guard_keeps_the_state(change):
    forms = {"crg_referral": REFERRAL, "sin_decision": {**SIN_NOTIFY, **change}}
    err = refused("sin_consideration", "notify_panel", HOS, forms)
    assert not err.decision.forbidden
    assert any(p.kind == "guard" for p in err.decision.problems)


def test_rapid_review_waits_for_returns_or_an_explanation():
    err = refused("rapid_review", "start_analysis", BUSINESS, {}, ONE_MISSING)
    assert "explain" in err.reasons[0]
    forms = {"rapid_review_report": {"omissions_explained": "Police return requested twice"}}
    assert SI.fire("rapid_review", "start_analysis", actor=BUSINESS, forms=forms, context=ONE_MISSING) == (
        "rapid_review_analysis"
    )


def test_conclude_needs_every_action_implemented():
    forms = {"action_plan": {"actions": [{"status": "implemented"}, {"status": "in_progress"}]}}
    refused("action_plan_monitoring", "conclude", BUSINESS, forms)
    refused("action_plan_monitoring", "conclude", BUSINESS, {"action_plan": {"actions": []}})


def test_missing_and_rejected_approvals():
    forms = {"rapid_review_report": {"lcspr_decision": "no_lcspr"}}
    err = refused("rapid_review_sign_off", "sign_off_rapid_review", BUSINESS, forms, votes=THREE_LEADS)
    assert err.decision.waiting_for_approvals
    assert "independent_scrutineer" in err.reasons[0]
    rejected = (*ALL_FOUR[:3], Vote("independent_scrutineer", None, "reject", "scrutineer"))
    err = refused("rapid_review_sign_off", "sign_off_rapid_review", BUSINESS, forms, votes=rejected)
    assert not err.decision.allowed
    assert [p.kind for p in err.decision.problems] == ["approval_rejected"]
    # the latest vote of a voter counts: changing to approve lets it through
    votes = (*rejected, Vote("independent_scrutineer", None, "approve", "scrutineer"))
    assert SI.fire("rapid_review_sign_off", "sign_off_rapid_review", actor=BUSINESS, forms=forms, votes=votes) == (
        "learning_dissemination"
    )
    # an approval from the wrong partner fills no slot
    wrong = (*ALL_FOUR[:2], Vote("statutory_lead", "education", "approve", "edu"), ALL_FOUR[3])
    assert refused("lcspr_approval", "approve_lcspr", BUSINESS, {}, votes=wrong).decision.waiting_for_approvals


def test_event_not_from_this_state():
    err = refused("referred", "conclude", BUSINESS, {})
    assert err.decision.problems[0].kind == "not_from_state"
    err = refused("referred", "no_such_event", BUSINESS, {})
    assert err.decision.problems[0].kind == "unknown_event"


# -- clocks ------------------------------------------------------------------------------------


START = D(2026, 12, 1)


def clocks(forms, history=(), today=START):
    return {d.name: d for d in SI.deadlines(forms, list(history), today)}


def test_sin_clock_over_christmas_2026():
    # Mon 21 Dec + 5 working days: 22, 23, 24, (25 Christmas, 28 Boxing Day substitute), 29, 30
    c = clocks({"crg_referral": {"la_aware_date": "2026-12-21"}}, today=D(2026, 12, 23))
    assert c["sin_notification"].due == D(2026, 12, 30)
    assert c["sin_notification"].status == "pending"
    # two working days before the 30th is Thu 24 Dec (the 25th and 28th are holidays)
    assert (
        clocks({"crg_referral": {"la_aware_date": "2026-12-21"}}, today=D(2026, 12, 24))["sin_notification"].status
        == "due_soon"
    )
    assert (
        clocks({"crg_referral": {"la_aware_date": "2026-12-21"}}, today=D(2026, 12, 31))["sin_notification"].status
        == "overdue"
    )
    met = clocks({"crg_referral": {"la_aware_date": "2026-12-21"}, "sin_decision": {"notified_on": "2026-12-30"}})
    assert met["sin_notification"].status == "met"
    late = clocks({"crg_referral": {"la_aware_date": "2026-12-21"}, "sin_decision": {"notified_on": "2026-12-31"}})
    assert late["sin_notification"].status == "missed"
    # deciding not to notify stops the clock on the day the case enters other_action
    stopped = clocks({"crg_referral": {"la_aware_date": "2026-12-21"}}, [("other_action", D(2026, 12, 29))])
    assert stopped["sin_notification"].status == "met"


def test_rapid_review_clock_over_easter_2027():
    # Mon 15 Mar 2027 + 15 working days, skipping Good Friday 26 Mar and Easter Monday 29 Mar
    c = clocks({"sin_decision": {"notified_on": "2027-03-15"}}, today=D(2027, 3, 20))
    assert c["rapid_review_report"].due == D(2027, 4, 7)
    stopped = clocks(
        {"sin_decision": {"notified_on": "2027-03-15"}}, [("lcspr_commissioning", D(2027, 4, 8))], D(2027, 4, 9)
    )
    assert stopped["rapid_review_report"].status == "missed"


def test_pre_publication_copies_before_easter_2027():
    # 7 working days before Thu 1 Apr 2027: 31, 30, (29 Easter Monday, 26 Good Friday), 25, 24, 23, 22, 19
    forms = {"publication_record": {"planned_publication_date": "2027-04-01"}}
    assert clocks(forms)["pre_publication_copies"].due == D(2027, 3, 19)
    sent = {**forms["publication_record"], "sent_to_panel_on": "2027-03-18", "sent_to_sos_on": "2027-03-18"}
    assert clocks({"publication_record": sent}, today=D(2027, 3, 22))["pre_publication_copies"].status == "overdue"
    sent["sent_to_ofsted_on"] = "2027-03-19"
    assert clocks({"publication_record": sent})["pre_publication_copies"].status == "met"


def test_long_clocks():
    forms = {
        "lcspr_terms_of_reference": {"commissioned_on": "2026-08-31"},
        "publication_record": {"published_on": "2027-02-28"},
        "action_plan": {"signed_off_on": "2027-03-01"},
    }
    c = clocks(forms, today=D(2027, 3, 1))
    assert c["lcspr_publication"].due == D(2027, 2, 28)
    assert c["lcspr_publication"].status == "met"
    assert c["publication_availability"].due == D(2028, 2, 28)
    assert c["publication_availability"].status == "pending"
    assert clocks(forms, today=D(2028, 2, 28))["publication_availability"].status == "met"
    assert c["reflective_learning_event"].due == D(2029, 3, 1)
    assert [d.name for d in SI.definition.deadlines] == [
        "sin_notification", "rapid_review_report", "lcspr_publication", "pre_publication_copies",
        "publication_availability", "reflective_learning_event",
    ]  # fmt: skip


def test_notification_targets():
    assert SI.notifications_on_enter("sin_consideration")[0].roles == ("crg_member", "la_head_of_safeguarding")
    assert SI.notifications_on_enter("rapid_review")[0].to_dict() == {"involved_agencies": ["agency_safeguarding_lead"]}
    assert SI.notifications_on_enter("lcspr_in_progress")[0].to_dict() == {"assigned": ["lead_reviewer"]}
    assert SI.notifications_on_overdue("sin_notification")[0].roles == ("business_team", "la_head_of_safeguarding")
    assert SI.notifications_on_overdue("publication_availability")[0].roles == ("business_team",)
