"""Fidelity of serious_incident version 2's clocks to the Pan-Sussex procedure (issue #13 item 1):
each clock stops on the duty itself, measured over England's bank holidays. Test names carry the
paragraph they check (docs/serious-incident.md lists them)."""

from __future__ import annotations

import datetime as dt

from forms import FormRegistry

from .helpers import BUSINESS, SI2, referral

D = dt.date
FORMS = FormRegistry.load_default()


TODAY = D(2027, 1, 4)


def clocks(forms, history=(), today=TODAY):
    return {d.name: d for d in SI2.deadlines(forms, list(history), today)}


def test_1_1_21_rapid_review_clock_runs_over_christmas_2026_and_stops_only_when_sent_to_the_panel():
    # Mon 21 Dec + 15 working days, skipping 25 and 28 Dec (Boxing Day's substitute) and 1 Jan
    forms = {"sin_decision": {"notified_on": "2026-12-21"},
             "rapid_review_report": {"lcspr_decision": "no_lcspr", "report_date": "2027-01-06"}}
    # signed off on day 12 and the case moved on, but the report never went to the Panel
    history = [("rapid_review_sign_off", D(2027, 1, 6)), ("learning_dissemination", D(2027, 1, 11)),
               ("closed", D(2027, 1, 12))]
    c = clocks(forms, history, today=D(2027, 1, 15))["rapid_review_report"]
    assert (c.due, c.status, c.stopped_on) == (D(2027, 1, 14), "overdue", None)
    sent = {**forms, "rapid_review_report": {**forms["rapid_review_report"], "sent_to_panel_on": "2027-01-14"}}
    assert clocks(sent, history, today=D(2027, 1, 15))["rapid_review_report"].status == "met"
    late = {**forms, "rapid_review_report": {**forms["rapid_review_report"], "sent_to_panel_on": "2027-01-15"}}
    assert clocks(late, history, today=D(2027, 1, 15))["rapid_review_report"].status == "missed"
    # version 1 (running cases) still stops on entering learning_dissemination
    from .helpers import SI
    v1 = {d.name: d for d in SI.deadlines(forms, history, D(2027, 1, 15))}["rapid_review_report"]
    assert v1.status == "met"


def test_1_1_55_copies_are_due_7_working_days_before_the_actual_publication_over_the_spring_bank_holiday():
    planned = {"planned_publication_date": "2027-06-30", "report_type": "full"}
    sent = {k: "2027-05-21" for k in ("sent_to_panel_on", "sent_to_sos_on", "sent_to_ofsted_on")}
    # before publication the due date follows the planned date (7 working days before 30 June)
    c = clocks({"publication_record": {**planned, **sent}}, today=D(2027, 5, 21))["pre_publication_copies"]
    assert (c.due, c.status) == (D(2027, 6, 21), "met")
    # published early on Tue 1 June (after the Spring bank holiday): due Thu 20 May, the copies were late
    published = {"publication_record": {**planned, **sent, "published_on": "2027-06-01"}}
    c = clocks(published, [("published", D(2027, 6, 1))], today=D(2027, 6, 2))["pre_publication_copies"]
    assert (c.due, c.status) == (D(2027, 5, 20), "missed")
    on_time = {"publication_record": {**planned, **{k: "2027-05-20" for k in sent}, "published_on": "2027-06-01"}}
    assert clocks(on_time, today=D(2027, 6, 2))["pre_publication_copies"].status == "met"
    # entering published no longer stops it: without the copies it runs on, overdue
    none_sent = {"publication_record": {**planned, "published_on": "2027-06-01"}}
    assert clocks(none_sent, [("published", D(2027, 6, 1))], today=D(2027, 6, 2))[
        "pre_publication_copies"].status == "overdue"


def _publish(record):
    forms = {"crg_referral": referral(), "publication_record": record}
    tasks = {t: {"date": "2027-05-10", "choice": "debriefed"} for t in (
        "board_approval", "family_debrief", "staff_debrief", "media_plan", "partnership_response")}
    return SI2.evaluate("pre_publication", "publish", BUSINESS, forms, {"tasks": tasks})


def test_1_1_55_publish_is_refused_unless_each_copy_preceded_the_actual_publication_by_7_working_days():
    base = {"planned_publication_date": "2027-06-30", "report_type": "full", "published_on": "2027-06-01",
            "sent_to_panel_on": "2027-05-20", "sent_to_sos_on": "2027-05-20", "sent_to_ofsted_on": "2027-05-20"}
    assert _publish(base).complete, _publish(base).reasons
    for copy in ("sent_to_panel_on", "sent_to_sos_on", "sent_to_ofsted_on"):
        one_day_late = _publish({**base, copy: "2027-05-21"})
        assert not one_day_late.allowed
        assert any("at least 7 working days" in r for r in one_day_late.reasons)
        missing = {k: v for k, v in base.items() if k != copy}
        assert not _publish(missing).allowed
    # the day before publication: refused, although it was 7 working days before the planned date
    assert not _publish({**base, **{k: "2027-05-28" for k in ("sent_to_panel_on", "sent_to_sos_on",
                                                              "sent_to_ofsted_on")}}).allowed


def test_1_1_29_the_lcspr_clock_starts_when_the_partners_agree_to_commission_not_at_the_terms_of_reference():
    forms = {"rapid_review_report": {"lcspr_decision": "commission_lcspr", "lcspr_agreed_on": "2026-08-31"},
             "lcspr_terms_of_reference": {"commissioned_on": "2026-10-15"}}
    c = clocks(forms, today=D(2026, 9, 1))["lcspr_publication"]
    assert (c.starts, c.due) == (D(2026, 8, 31), D(2027, 2, 28))  # 6 calendar months, clamped
    # no LCSPR decided: no clock, whatever dates are filled
    assert "lcspr_publication" not in clocks({"rapid_review_report": {"lcspr_decision": "no_lcspr",
                                                                      "lcspr_agreed_on": "2026-08-31"}})
    # not notified, but the partners still commission one (1.1.3): the clock starts on that agreement
    no_sin = {"sin_decision": {"decision": "do_not_notify", "alternative_action": "local_cspr",
                               "lcspr_agreed_on": "2026-12-24"}}
    assert clocks(no_sin)["lcspr_publication"].due == D(2027, 6, 24)
    # the published date stops it; entering published alone does not
    published = {**forms, "publication_record": {"published_on": "2027-02-26"}}
    assert clocks(published, today=D(2027, 3, 1))["lcspr_publication"].status == "met"


def test_1_1_52_reflective_learning_is_due_two_years_after_the_plan_sign_off_and_an_early_event_reads_met():
    plan = {"signed_off_on": "2027-03-01", "actions": []}
    c = clocks({"action_plan": plan}, today=D(2028, 1, 3))["reflective_learning_event"]
    assert (c.due, c.status) == (D(2029, 3, 1), "pending")
    # held early: met, and stopped_on (before due) shows how early
    held = {"action_plan": {**plan, "reflective_learning_outcome": "held", "reflective_learning_on": "2028-11-30"}}
    c = clocks(held, today=D(2028, 12, 1))["reflective_learning_event"]
    assert (c.status, c.stopped_on) == ("met", D(2028, 11, 30)) and c.stopped_on < c.due
    # closing the case does not discharge it in version 2: only the event (or the Board's decision)
    c = clocks({"action_plan": plan}, [("closed", D(2028, 1, 3))], today=D(2029, 3, 2))["reflective_learning_event"]
    assert c.status == "overdue"


def test_1_1_16_an_adult_care_leaver_has_no_sin_clock_and_no_rapid_review_clock():
    forms = {"crg_referral": referral(care_leaver=True, date_of_birth="2005-01-01"),
             "sin_decision": {"decision": "do_not_notify", "child_status": "care_leaver",
                              "sos_notified_on": "2026-12-22", "ofsted_notified_on": "2026-12-22"}}
    assert set(clocks(forms)) == set()
    child = {"crg_referral": referral()}
    assert set(clocks(child)) == {"sin_notification"}


def test_1_1_21_1_1_56_the_delay_notice_covers_every_clock_and_asks_for_the_panel_date_only_for_its_clocks():
    base = {"due_date": "2026-10-12", "reason": "Returns were late."}
    for clock in ("sin_notification", "pre_publication_copies"):
        errors = FORMS.validate("delay_notice", 2, {**base, "deadline": clock}, final=True, today=D(2026, 12, 1))
        assert [e.path for e in errors] == ["/panel_informed_on"]
    for clock in ("reflective_learning_event", "publication_availability", "learning_review_complete"):
        assert FORMS.validate("delay_notice", 2, {**base, "deadline": clock}, final=True, today=D(2026, 12, 1)) == []
    # every clock of every shipped case type can be named
    from .helpers import REGISTRY
    names = {dl.name for ct in REGISTRY.all() for dl in ct.definition.deadlines}
    for name in names:
        data = {**base, "deadline": name, "panel_informed_on": "2026-10-13", "revised_date": "2026-11-01"}
        assert FORMS.validate("delay_notice", 2, data, final=True, today=D(2026, 12, 1)) == [], name



def test_1_1_21_1_1_56_a_delay_notice_names_a_clock_of_its_case_type():
    from .helpers import REGISTRY, SI2
    assert SI2.clock_name_errors("delay_notice", {"deadline": "rapid_review_report"}) == []
    names = ", ".join(dl.name for dl in SI2.definition.deadlines)
    assert SI2.clock_name_errors("delay_notice", {"deadline": "rapid_review_reprot"}) == [
        ("deadline", f"Name a clock of this case type: {names}.")]
    # another case type's clock is not this case's
    assert SI2.clock_name_errors("delay_notice", {"deadline": "learning_review_complete"})
    assert SI2.clock_name_errors("sin_decision", {"deadline": "anything"}) == []  # only the declared field
    # every shipped case type that opens the delay notice says which field names its clock
    for ct in REGISTRY.all():
        for g in ct.definition.forms_in_all_states:
            if g.form_id == "delay_notice":
                assert g.clock_field == "deadline", (ct.definition.case_type, ct.definition.version)
