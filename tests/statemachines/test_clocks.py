"""The six clocks of serious_incident: May and August bank holidays, amended source dates, how
each clock stops, and the statuses around the due date."""

from __future__ import annotations

import datetime as dt

from .helpers import SI

D = dt.date


TODAY = D(2027, 1, 4)


def clocks(forms, history=(), today=TODAY):
    return {d.name: d for d in SI.deadlines(forms, list(history), today)}


def test_no_start_date_no_clock():
    assert clocks({}) == {}
    assert clocks({"crg_referral": {"la_aware_date": None}}) == {}
    assert clocks({"crg_referral": {"la_aware_date": "not a date"}}) == {}
    assert list(clocks({"crg_referral": {"la_aware_date": "2027-01-04"}})) == ["sin_notification"]


def test_sin_clock_over_the_may_bank_holidays_2027():
    # Wed 28 Apr + 5: 29, 30, (Mon 3 May holiday) 4, 5, 6
    c = clocks({"crg_referral": {"la_aware_date": "2027-04-28"}}, today=D(2027, 4, 28))
    assert c["sin_notification"].due == D(2027, 5, 6)
    assert c["sin_notification"].status == "pending"
    # Thu 27 May + 5: 28, (31 May Spring bank holiday) 1, 2, 3, 4 June
    c = clocks({"crg_referral": {"la_aware_date": "2027-05-27"}})
    assert c["sin_notification"].due == D(2027, 6, 4)


def test_rapid_review_clock_over_the_august_bank_holiday_2027():
    # Mon 16 Aug + 15 working days, skipping Mon 30 Aug: 17..20 (4), 23..27 (9), 31, 1, 2, 3 (13), 6, 7 (15)
    c = clocks({"sin_decision": {"notified_on": "2027-08-16"}}, today=D(2027, 9, 3))
    assert c["rapid_review_report"].due == D(2027, 9, 7)
    assert c["rapid_review_report"].status == "due_soon"  # 2 working days before: Fri 3 Sep
    assert (
        clocks({"sin_decision": {"notified_on": "2027-08-16"}}, today=D(2027, 9, 2))["rapid_review_report"].status
        == "pending"
    )
    assert (
        clocks({"sin_decision": {"notified_on": "2027-08-16"}}, today=D(2027, 9, 7))["rapid_review_report"].status
        == "due_soon"
    )  # the due day itself
    assert (
        clocks({"sin_decision": {"notified_on": "2027-08-16"}}, today=D(2027, 9, 8))["rapid_review_report"].status
        == "overdue"
    )


def test_amending_the_source_date_recomputes_the_clock():
    before = clocks({"crg_referral": {"la_aware_date": "2026-12-21"}}, today=D(2026, 12, 31))["sin_notification"]
    assert (before.due, before.status) == (D(2026, 12, 30), "overdue")
    # the business team corrects the date the LA became aware: the clock follows
    after = clocks({"crg_referral": {"la_aware_date": "2026-12-23"}}, today=D(2026, 12, 31))["sin_notification"]
    assert after.starts == D(2026, 12, 23)
    # 24, 29, 30, 31 Dec and (New Year's Day) Mon 4 Jan; two working days before is 30 Dec
    assert (after.due, after.status) == (D(2027, 1, 4), "due_soon")
    # a planned publication date moved later moves the copies' due date
    planned = {"publication_record": {"planned_publication_date": "2027-06-01"}}
    assert clocks(planned)["pre_publication_copies"].due == D(2027, 5, 20)  # over the Spring bank holiday
    planned = {"publication_record": {"planned_publication_date": "2027-06-15"}}
    assert clocks(planned)["pre_publication_copies"].due == D(2027, 6, 4)


def test_rapid_review_clock_stops_after_sign_off_or_when_sent():
    forms = {"sin_decision": {"notified_on": "2027-03-15"}}  # due 7 Apr 2027 (Easter)
    assert (
        clocks(forms, [("learning_dissemination", D(2027, 4, 7))], D(2027, 5, 1))["rapid_review_report"].status == "met"
    )
    sent = {**forms, "rapid_review_report": {"sent_to_panel_on": "2027-04-06"}}
    c = clocks(sent, [("rapid_review_sign_off", D(2027, 4, 1))], D(2027, 5, 1))["rapid_review_report"]
    assert (c.status, c.stopped_on) == ("met", D(2027, 4, 6))


def test_sin_clock_stops_on_a_care_leaver_closure():
    c = clocks({"crg_referral": {"la_aware_date": "2027-01-04"}}, [("closed", D(2027, 1, 12))], D(2027, 2, 1))
    assert (c["sin_notification"].status, c["sin_notification"].stopped_on) == ("missed", D(2027, 1, 12))


def test_pre_publication_copies_stop_on_publication():
    forms = {"publication_record": {"planned_publication_date": "2027-07-20"}}  # due Fri 9 Jul
    c = clocks(forms, [("published", D(2027, 7, 20))], D(2027, 7, 21))["pre_publication_copies"]
    assert (c.status, c.stopped_on) == ("missed", D(2027, 7, 20))
    c = clocks(forms, [], D(2027, 7, 8))["pre_publication_copies"]
    assert c.status == "due_soon"


def test_lcspr_clock_stops_when_published():
    forms = {"lcspr_terms_of_reference": {"commissioned_on": "2027-01-15"}}
    assert clocks(forms, today=D(2027, 7, 16))["lcspr_publication"].status == "overdue"
    done = {**forms, "publication_record": {"published_on": "2027-07-15"}}
    assert clocks(done, today=D(2027, 7, 16))["lcspr_publication"].status == "met"
    late = clocks(forms, [("published", D(2027, 7, 16))], D(2027, 7, 20))["lcspr_publication"]
    assert (late.status, late.stopped_on) == ("missed", D(2027, 7, 16))


def test_publication_availability_is_a_minimum_period():
    forms = {"publication_record": {"published_on": "2027-07-15"}}
    assert clocks(forms, today=D(2028, 7, 14))["publication_availability"].status == "pending"
    assert clocks(forms, today=D(2028, 7, 15))["publication_availability"].status == "met"


def test_reflective_learning_event_two_years_after_sign_off():
    forms = {"action_plan": {"signed_off_on": "2027-09-01"}}
    assert clocks(forms, [("concluded", D(2028, 3, 1))], D(2029, 8, 1))["reflective_learning_event"].status == (
        "pending"
    )
    c = clocks(forms, [("concluded", D(2028, 3, 1))], D(2029, 8, 10))["reflective_learning_event"]
    assert c.due == D(2029, 9, 1)
    assert c.status == "due_soon"  # within 20 working days; concluding the actions does not stop it
    assert clocks(forms, [("concluded", D(2028, 3, 1))], D(2029, 9, 3))["reflective_learning_event"].status == (
        "overdue"
    )
    closed = clocks(forms, [("concluded", D(2028, 3, 1)), ("closed", D(2029, 8, 20))], D(2029, 9, 3))
    assert closed["reflective_learning_event"].status == "met"


def test_deadline_status_serialises():
    c = clocks({"crg_referral": {"la_aware_date": "2026-12-21"}, "sin_decision": {"notified_on": "2026-12-30"}})
    assert c["sin_notification"].to_dict() == {
        "name": "sin_notification",
        "title": "SIN notification to the National Panel",
        "starts": "2026-12-21",
        "due": "2026-12-30",
        "status": "met",
        "stopped_on": "2026-12-30",
    }
