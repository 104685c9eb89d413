"""Fidelity of serious_incident version 2's routes and tasks (issue #13 items 2 and 3), on the pure
engine. Test names carry the paragraph they check (docs/serious-incident.md lists them)."""

from __future__ import annotations

import datetime as dt

import pytest

from .helpers import ALL_FOUR, BUSINESS, CRG, HOS, LA_LEAD, SCRUTINEER, SI2, SIN_NO, SIN_NOTIFY, THREE_LEADS, referral

TODAY = dt.date(2027, 1, 4)
REPORT = {"lcspr_decision": "commission_lcspr", "lcspr_agreed_on": "2026-12-30"}
SIGN_OFF_TASKS = {"report_shared_for_review": {"date": "2026-12-29"},
                  "scrutineer_review": {"date": "2026-12-30", "choice": "concerns_raised"}}


def decide(state, event, actor, forms, tasks=None, votes=()):
    return SI2.evaluate(state, event, actor, forms, {"tasks": tasks or {}}, votes)


def test_1_1_21_the_crg_signs_the_rapid_review_off_with_the_leads_overseeing_and_the_scrutineer_reviewing():
    forms = {"crg_referral": referral(), "sin_decision": SIN_NOTIFY, "rapid_review_report": REPORT}
    done = decide("rapid_review_sign_off", "sign_off_rapid_review", CRG, forms, SIGN_OFF_TASKS)
    # no approvals: one CRG decision, even where the scrutineer raised concerns
    assert done.complete and done.target == "lcspr_commissioning" and done.approvals_needed == ()
    # the review by the leads and the scrutineer is a recorded step before it
    blocked = decide("rapid_review_sign_off", "sign_off_rapid_review", CRG, forms,
                     {"report_shared_for_review": {"date": "2026-12-29"}})
    assert not blocked.allowed
    assert blocked.reasons == ["Record first: Independent scrutineer's review of the report (1.1.21, 1.1.3)."]
    # the leads oversee (they may send it back) but do not sign off
    assert decide("rapid_review_sign_off", "sign_off_rapid_review", LA_LEAD, forms, SIGN_OFF_TASKS).forbidden
    for who in (LA_LEAD, SCRUTINEER):
        assert decide("rapid_review_sign_off", "return_to_analysis", who, forms).complete
    # the agreement date starts the LCSPR clock: commissioning without it is refused
    no_date = {**forms, "rapid_review_report": {"lcspr_decision": "commission_lcspr"}}
    assert not decide("rapid_review_sign_off", "sign_off_rapid_review", CRG, no_date, SIGN_OFF_TASKS).allowed


def test_1_1_21_the_case_cannot_leave_for_good_until_the_report_is_sent_to_the_panel():
    forms = {"crg_referral": referral(), "sin_decision": SIN_NOTIFY, "learning_briefing": {"title": "x"},
             "rapid_review_report": {"lcspr_decision": "no_lcspr"}}
    refused = decide("learning_dissemination", "complete_dissemination", BUSINESS, forms)
    assert not refused.allowed and "sent to the National Panel" in refused.reasons[0]
    forms["rapid_review_report"] = {**forms["rapid_review_report"], "sent_to_panel_on": "2027-01-04"}
    assert decide("learning_dissemination", "complete_dissemination", BUSINESS, forms).complete


def test_1_1_16_a_seriously_harmed_looked_after_child_needs_no_sos_or_ofsted_dates_a_death_does():
    harmed = {"crg_referral": referral(looked_after=True),
              "sin_decision": {**SIN_NOTIFY, "child_status": "looked_after"}}
    assert decide("sin_consideration", "notify_panel", HOS, harmed).complete
    died = {**harmed, "crg_referral": {**referral(looked_after=True), "death_or_serious_harm": "died"}}
    assert not decide("sin_consideration", "notify_panel", HOS, died).allowed
    told = {**died, "sin_decision": {**died["sin_decision"], "sos_notified_on": "2026-12-22",
                                     "ofsted_notified_on": "2026-12-22"}}
    assert decide("sin_consideration", "notify_panel", HOS, told).complete


def test_1_1_16_seed_000_a_looked_after_childs_death_is_told_to_the_sos_and_ofsted_even_without_a_sin():
    died = {"crg_referral": {**referral(looked_after=True), "death_or_serious_harm": "died"},
            "sin_decision": {**SIN_NO, "child_status": "looked_after", "abuse_or_neglect_known_or_suspected": False}}
    refused = decide("sin_consideration", "decide_not_to_notify", HOS, died)
    assert not refused.allowed and "Secretary of State and Ofsted" in refused.reasons[0]
    told = {**died, "sin_decision": {**died["sin_decision"], "sos_notified_on": "2026-12-22",
                                     "ofsted_notified_on": "2026-12-23"}}
    assert decide("sin_consideration", "decide_not_to_notify", HOS, told).target == "other_action"


def test_1_1_3_1_1_16_a_case_not_notified_can_still_get_an_lcspr_or_another_review():
    other = {"crg_referral": referral(), "sin_decision": {**SIN_NO, "alternative_action": "local_cspr",
                                                          "lcspr_agreed_on": "2027-01-04"}}
    d = decide("other_action", "commission_lcspr", CRG, other)
    assert d.complete and d.target == "lcspr_commissioning"
    # an agreed LCSPR is commissioned, not closed
    assert not decide("other_action", "close_other_action", BUSINESS, other).allowed
    # terms of reference alone start it (no rapid review on this route)
    forms = {**other, "lcspr_terms_of_reference": {"commissioned_on": "2027-01-10"}}
    tasks = {"agencies_notified_of_lcspr": {"date": "2027-01-05"},
             "review_panel_independent": {"date": "2027-01-05", "choice": "confirmed"},
             "domestic_abuse_specialist_involved": {"date": "2027-01-05", "note": "Local DA service"}}
    assert decide("lcspr_commissioning", "start_lcspr", CRG, forms, tasks).complete


def test_1_1_3_an_alternative_action_is_followed_through_before_the_case_closes():
    other = {"crg_referral": referral(), "sin_decision": SIN_NO}
    refused = decide("other_action", "close_other_action", BUSINESS, other)
    assert refused.reasons == ["Record first: The alternative action was followed through to completion (1.1.3)."]
    done = {"alternative_action_completed": {"date": "2027-01-04", "note": "Single-agency review reported."}}
    assert decide("other_action", "close_other_action", BUSINESS, other, done).complete
    nothing = {**other, "sin_decision": {**SIN_NO, "alternative_action": "no_further_action"}}
    assert decide("other_action", "close_other_action", BUSINESS, nothing).complete


@pytest.mark.parametrize("age_dob", ["2008-01-01", "2002-12-20"])  # 18 and 24 at the incident
def test_1_1_16_an_adult_care_leaver_is_told_to_the_sos_and_ofsted_with_no_panel_notification(age_dob):
    ref = {**referral(care_leaver=True, date_of_birth=age_dob), "death_or_serious_harm": "died"}
    sin = {**SIN_NO, "child_status": "care_leaver", "alternative_action": "multi_agency_learning_review"}
    notify = decide("sin_consideration", "notify_panel", HOS, {"crg_referral": ref, "sin_decision": SIN_NOTIFY})
    assert not notify.allowed and notify.reasons[-1].startswith("An adult care leaver (18 to 24) is not notified")
    untold = {"crg_referral": ref, "sin_decision": sin}
    assert not decide("sin_consideration", "decide_not_to_notify", HOS, untold).allowed
    told = {**sin, "sos_notified_on": "2026-12-21", "ofsted_notified_on": "2026-12-21"}
    d = decide("sin_consideration", "decide_not_to_notify", HOS, {"crg_referral": ref, "sin_decision": told})
    assert d.complete and d.target == "other_action"  # and from there a learning review or an LCSPR


def test_1_1_14_1_1_41_the_partnership_where_the_child_lives_leads_a_cross_boundary_case():
    ref = {**referral(), "other_areas_involved": {"local_authorities": ["Brighton & Hove"]}}
    forms = {"crg_referral": ref, "sin_decision": SIN_NOTIFY}
    refused = decide("sin_consideration", "notify_panel", HOS, forms)
    assert "Record first: Lead partnership confirmed (where the child normally lives) (1.1.14, 1.1.41, seed 004)." \
        in refused.reasons
    here = {"lead_partnership_confirmed": {"date": "2026-12-22", "choice": "harmed_outside_england_resident_here"}}
    assert decide("sin_consideration", "notify_panel", HOS, forms, here).complete
    elsewhere = {"lead_partnership_confirmed": {"date": "2026-12-22", "choice": "another_partnership_leads"}}
    assert not decide("sin_consideration", "notify_panel", HOS, forms, elsewhere).allowed
    assert decide("sin_consideration", "transfer_to_lead_partnership", BUSINESS, forms, elsewhere).target == "closed"
    assert not decide("sin_consideration", "transfer_to_lead_partnership", BUSINESS, forms, here).allowed
    # a child living here with no other area involved: nothing to record
    assert decide("sin_consideration", "notify_panel", HOS, {"crg_referral": referral(), "sin_decision": SIN_NOTIFY}
                  ).complete


def test_1_1_43_the_partnership_looking_after_a_child_leads_or_joins_before_the_lcspr_starts():
    forms = {"crg_referral": referral(looked_after=True), "sin_decision": SIN_NOTIFY,
             "rapid_review_report": {**REPORT, "sent_to_panel_on": "2027-01-04"},
             "lcspr_terms_of_reference": {"commissioned_on": "2027-01-10"}}
    tasks = {"agencies_notified_of_lcspr": {"date": "2027-01-05"},
             "review_panel_independent": {"date": "2027-01-05", "choice": "confirmed"},
             "domestic_abuse_specialist_involved": {"date": "2027-01-05", "note": "Local DA service"}}
    refused = decide("lcspr_commissioning", "start_lcspr", CRG, forms, tasks)
    assert [r for r in refused.reasons if "1.1.43" in r]
    tasks["looking_after_partnership_joined"] = {"date": "2027-01-05", "choice": "looking_after_partnership_invited"}
    assert decide("lcspr_commissioning", "start_lcspr", CRG, forms, tasks).complete


def test_1_1_52_the_report_is_approved_by_the_three_leads_and_reviewed_by_the_scrutineer_and_the_board():
    d = SI2.evaluate("lcspr_approval", "approve_lcspr", BUSINESS, {}, {}, THREE_LEADS)
    assert d.waiting_for_approvals
    assert SI2.evaluate("lcspr_approval", "approve_lcspr", BUSINESS, {}, {}, ALL_FOUR).complete
    task = next(t for t in SI2.tasks if t.id == "board_approval")
    assert task.required_before == ("publish",) and task.source == "1.1.52"


def test_tasks_check_who_records_them_where_and_with_which_evidence():
    forms = {"crg_referral": referral(), "sin_decision": SIN_NOTIFY}

    def check(state, task, actor, evidence):
        return SI2.check_task_record(state, task, actor, evidence, forms, {}, TODAY)

    assert check("rapid_review_sign_off", "scrutineer_review", SCRUTINEER, {"date": "2027-01-04", "choice": "agrees"}) \
        == (None, [])
    assert check("rapid_review_sign_off", "scrutineer_review", CRG, {"date": "2027-01-04", "choice": "agrees"})[0] \
        == "role"
    assert check("rapid_review", "scrutineer_review", SCRUTINEER, {"date": "2027-01-04", "choice": "agrees"})[0] \
        == "not_in_state"
    assert check("rapid_review_sign_off", "no_such_task", SCRUTINEER, {})[0] == "unknown_task"
    kind, errors = check("rapid_review_sign_off", "scrutineer_review", SCRUTINEER,
                         {"date": "2027-01-05", "choice": "maybe", "note": "", "colour": "red"})
    assert kind == "invalid"
    assert dict(errors) == {"choice": "Choose one of: agrees, concerns_raised.",
                            "colour": "Remove this field: a task records only date, choice and note.",
                            "date": "Enter a date that is not in the future.", "note": "Write the note as text."}
    kind, errors = check("rapid_review_sign_off", "report_shared_for_review", BUSINESS, {"note": "x"})
    assert kind == "invalid" and dict(errors) == {
        "date": "This field is required for this task.",
        "note": "Remove this field: the task 'report_shared_for_review' does not take a note."}
    # a task that does not concern the case is not recorded
    assert check("lcspr_commissioning", "joint_dardr_decision", CRG, {"date": "2027-01-04", "choice": "joint_review"}
                 )[0] == "not_applicable"


def test_the_case_view_lists_the_tasks_that_apply_with_what_was_recorded():
    forms = {"crg_referral": referral(), "sin_decision": SIN_NOTIFY}
    records = {"scrutineer_review": {"date": "2027-01-04", "choice": "agrees", "recorded_by": "u1"}}
    view = {t["task"]: t for t in SI2.task_view("rapid_review_sign_off", SCRUTINEER, forms, {"tasks": records})}
    assert view["scrutineer_review"]["done"] and view["scrutineer_review"]["you_can_record"]
    assert view["scrutineer_review"]["recorded"]["recorded_by"] == "u1"
    assert not view["report_shared_for_review"]["done"] and not view["report_shared_for_review"]["you_can_record"]
    assert "joint_dardr_decision" not in view  # the child did not die
    assert "lead_partnership_confirmed" not in view  # no other area involved
    assert {t.id for t in SI2.tasks} >= {"family_informed", "legal_advice", "cps_protocol_followed", "media_plan"}


def test_1_1_14_1_1_41_handing_a_case_to_the_lead_partnership_closes_it_here_and_stops_its_sin_clock():
    ref = {**referral(), "other_areas_involved": {"local_authorities": ["Brighton & Hove"]}}
    forms = {"crg_referral": ref, "sin_decision": SIN_NOTIFY}
    elsewhere = {"lead_partnership_confirmed": {"date": "2026-12-22", "choice": "another_partnership_leads",
                                                "note": "Brighton & Hove leads: the child lives there."}}
    for state in ("referred", "sin_consideration", "sin_escalated"):
        d = decide(state, "transfer_to_lead_partnership", BUSINESS, forms, elsewhere)
        assert d.complete and d.target == "closed" and d.approvals_needed == ()
        assert decide(state, "transfer_to_lead_partnership", CRG, forms, elsewhere).forbidden
    # once notified, this partnership leads: no transfer from the rapid review on
    assert not decide("rapid_review", "transfer_to_lead_partnership", BUSINESS, forms, elsewhere).allowed
    # the choice, not the task alone, decides: recorded as led here, nothing is handed over
    told = {"lead_partnership_confirmed": {"date": "2026-12-22", "choice": "child_normally_resident_here"}}
    refused = decide("sin_consideration", "transfer_to_lead_partnership", BUSINESS, forms, told)
    assert refused.reasons == [next(t.reason for t in SI2.definition.transitions
                                    if t.event == "transfer_to_lead_partnership")]
    # the SIN clock (no SIN sent here) stops on closing: met when closed by its due date, the
    # hand-over in time; missed when closed after it
    forms = {"crg_referral": ref}
    history = [("referred", dt.date(2026, 12, 21)), ("closed", dt.date(2026, 12, 22))]
    sin = {c.name: c for c in SI2.deadlines(forms, history, dt.date(2027, 1, 15))}["sin_notification"]
    assert (sin.status, sin.stopped_on) == ("met", dt.date(2026, 12, 22))
    late = [("referred", dt.date(2026, 12, 21)), ("closed", dt.date(2027, 1, 4))]
    assert {c.name: c for c in SI2.deadlines(forms, late, dt.date(2027, 1, 15))}["sin_notification"].status == "missed"
