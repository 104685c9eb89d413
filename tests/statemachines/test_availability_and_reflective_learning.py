"""The two clocks that stop on a date recorded in a version 2 form: the report kept publicly
available for a year (publication_record v2 ``withdrawn_on``) and the reflective learning event two
years after the action plan's sign-off (action_plan v2 ``reflective_learning_on``). Version 1 data
keeps the old behaviour. Form data is validated against the real shipped forms before it is used."""

from __future__ import annotations

import datetime as dt

import pytest

from forms import FormRegistry, RetiredVersion
from statemachines import TransitionRefused

from .helpers import BUSINESS, SI

D = dt.date
FORMS = FormRegistry.load_default()
LATER = D(2031, 1, 1)  # after every date below: "not in the future" holds, every clock has fallen due


def clock(name, forms, history=(), today=LATER):
    found = {d.name: d for d in SI.deadlines(forms, list(history), today)}
    return found.get(name)


def valid(form_id, version, data, today=LATER):
    """The data, after checking it is a valid final of that version (so the tests use real fields);
    a version 1 submission was made before its accept_until, so retirement is not checked here."""
    assert FORMS.get(form_id, version).errors(data, final=True, today=today) == []
    return data


# -- publication_availability ------------------------------------------------------------------
PUBLISHED = {
    "planned_publication_date": "2027-07-15", "report_type": "full", "sent_to_panel_on": "2027-07-01",
    "sent_to_sos_on": "2027-07-01", "sent_to_ofsted_on": "2027-07-01", "published_on": "2027-07-15",
    "url": "https://scp.example.org/lcspr", "nspcc_repository": True, "reviewer_named": True,
}


def availability(record, history=(), today=LATER, version=2):
    return clock("publication_availability", {"publication_record": valid("publication_record", version, record)},
                 history, today)


def withdrawn(on):
    return {**PUBLISHED, "withdrawn_on": on, "withdrawal_reason": "Taken down on legal advice."}


def test_availability_is_pending_then_met_while_the_report_stays_up():
    assert (availability(PUBLISHED, today=D(2028, 7, 14)).status, availability(PUBLISHED).due) == (
        "pending", D(2028, 7, 15))
    assert availability(PUBLISHED, today=D(2028, 7, 15)).status == "met"


def test_closing_the_case_does_not_stop_availability():
    # the case closes three months after publication: the report is still up, the year still runs
    c = availability(PUBLISHED, [("published", D(2027, 7, 15)), ("closed", D(2027, 10, 1))], D(2027, 10, 2))
    assert (c.status, c.stopped_on) == ("pending", None)
    c = availability(PUBLISHED, [("published", D(2027, 7, 15)), ("closed", D(2027, 10, 1))], D(2028, 7, 15))
    assert (c.status, c.stopped_on) == ("met", None)


def test_taken_down_within_the_year_is_missed():
    c = availability(withdrawn("2028-03-01"), today=D(2028, 3, 2))
    assert (c.status, c.stopped_on) == ("missed", D(2028, 3, 1))
    # one day short of the year is still short; the anniversary itself is a full year
    assert availability(withdrawn("2028-07-14")).status == "missed"
    c = availability(withdrawn("2028-07-15"))
    assert (c.status, c.stopped_on) == ("met", D(2028, 7, 15))


def test_taken_down_after_the_year_is_met_even_before_the_clock_would_have_said_so():
    c = availability(withdrawn("2029-01-10"), today=D(2029, 1, 11))
    assert (c.status, c.stopped_on) == ("met", D(2029, 1, 10))


def test_version_1_record_keeps_the_old_behaviour():
    v1 = valid("publication_record", 1, PUBLISHED)
    assert "withdrawn_on" not in FORMS.field_paths("publication_record", 1)
    assert availability(v1, today=D(2028, 7, 14), version=1).status == "pending"
    c = availability(v1, [("closed", D(2027, 9, 1))], D(2028, 7, 15), version=1)
    assert (c.status, c.stopped_on) == ("met", None)


def test_a_withdrawal_needs_a_publication_and_a_reason():
    errors = FORMS.validate("publication_record", 2, {**PUBLISHED, "withdrawn_on": "2028-01-01"}, final=True,
                            today=D(2028, 1, 2))
    assert [e.path for e in errors] == ["/withdrawal_reason"]
    unpublished = {"planned_publication_date": "2027-07-15", "report_type": "full", "withdrawn_on": "2027-08-01",
                   "withdrawal_reason": "x"}
    assert [e.path for e in FORMS.validate("publication_record", 2, unpublished, final=True, today=D(2028, 1, 1))] \
        == ["/published_on"]
    # a take-down cannot be recorded ahead of time
    future = FORMS.validate("publication_record", 2, withdrawn("2028-01-02"), final=True, today=D(2028, 1, 1))
    assert [e.path for e in future] == ["/withdrawn_on"]


def test_the_take_down_can_be_recorded_until_the_case_closes():
    for state in ("published", "action_plan_monitoring", "concluded"):
        assert SI.form_open("publication_record", state, ["business_team"]), state
    assert not SI.form_open("publication_record", "closed", ["business_team"])


# -- reflective_learning_event -----------------------------------------------------------------
PLAN = {
    "review_reference": "LCSPR Child A",
    "actions": [{"row_id": "a1", "description": "Audit the protocol.", "owner_agency": "esx-health",
                 "due_date": "2028-01-31", "status": "implemented", "evidence": "Audit done.",
                 "implemented_on": "2028-01-20"}],
    "signed_off_on": "2027-09-01", "signed_off_by": "Statutory safeguarding leads",
}
CONCLUDED = [("concluded", D(2028, 3, 1))]


def held(on):
    return valid("action_plan", 2, {**PLAN, "reflective_learning_outcome": "held", "reflective_learning_on": on})


def not_held(on):
    return valid("action_plan", 2, {**PLAN, "reflective_learning_outcome": "not_held", "reflective_learning_on": on,
                                    "reflective_learning_not_held_reason": "The learning is in the annual audit."})


def reflective(plan, history=CONCLUDED, today=LATER):
    return clock("reflective_learning_event", {"action_plan": plan}, history, today)


def test_the_event_date_stops_the_clock_before_the_case_closes():
    c = reflective(held("2029-06-12"), today=D(2029, 6, 13))
    assert (c.due, c.status, c.stopped_on) == (D(2029, 9, 1), "met", D(2029, 6, 12))
    # closing months later changes nothing: the event's date decides
    c = reflective(held("2029-06-12"), [*CONCLUDED, ("closed", D(2029, 12, 1))])
    assert (c.status, c.stopped_on) == ("met", D(2029, 6, 12))


def test_an_event_after_the_due_date_is_missed_whenever_the_case_closes():
    c = reflective(held("2029-10-04"), [*CONCLUDED, ("closed", D(2029, 10, 5))])
    assert (c.status, c.stopped_on) == ("missed", D(2029, 10, 4))
    # the same late event recorded but the case still open: already missed, not overdue
    assert reflective(held("2029-10-04"), today=D(2029, 10, 5)).status == "missed"
    # on the due date itself it is met
    assert reflective(held("2029-09-01")).status == "met"


def test_a_decision_not_to_hold_one_stops_the_clock_on_its_date():
    c = reflective(not_held("2029-07-02"))
    assert (c.status, c.stopped_on) == ("met", D(2029, 7, 2))
    assert reflective(not_held("2029-11-05")).status == "missed"


def test_without_a_date_the_clock_runs_until_the_case_closes():
    plan = valid("action_plan", 2, PLAN)
    assert reflective(plan, today=D(2029, 9, 2)).status == "overdue"
    # action_plan v1 (no such field): closing still stops it, as before
    v1 = valid("action_plan", 1, PLAN)
    c = reflective(v1, [*CONCLUDED, ("closed", D(2029, 8, 20))])
    assert (c.status, c.stopped_on) == ("met", D(2029, 8, 20))
    c = reflective(v1, [*CONCLUDED, ("closed", D(2029, 9, 3))])
    assert (c.status, c.stopped_on) == ("missed", D(2029, 9, 3))


def test_closing_needs_the_event_or_the_decision_not_to_hold_one():
    def close(plan):
        return SI.fire("concluded", "close_after_reflective_learning", actor=BUSINESS, forms={"action_plan": plan})

    for plan in (valid("action_plan", 1, PLAN), valid("action_plan", 2, PLAN), None):
        with pytest.raises(TransitionRefused) as exc:
            close(plan)
        assert any("reflective learning" in r or "action_plan" in r for r in exc.value.reasons), exc.value.reasons
    assert close(held("2029-06-12")) == "closed"
    assert close(not_held("2029-07-02")) == "closed"


def test_the_reflective_learning_fields_hang_together():
    def paths(data):
        return [e.path for e in FORMS.validate("action_plan", 2, {**PLAN, **data}, final=True, today=D(2030, 1, 1))]

    assert paths({"reflective_learning_outcome": "not_held"}) == [
        "/reflective_learning_not_held_reason", "/reflective_learning_on"]
    assert paths({"reflective_learning_on": "2029-06-12"}) == ["/reflective_learning_outcome"]
    assert paths({"reflective_learning_outcome": "held", "reflective_learning_on": "2030-01-02"}) == [
        "/reflective_learning_on"]  # not in the future
    unsigned = {k: v for k, v in PLAN.items() if not k.startswith("signed_off")}
    errors = FORMS.validate("action_plan", 2, {**unsigned, "reflective_learning_outcome": "held",
                                               "reflective_learning_on": "2029-06-12"}, final=True, today=D(2030, 1, 1))
    assert [e.path for e in errors] == ["/signed_off_on"]


# -- versions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("form_id", ["action_plan", "publication_record"])
def test_version_1_is_accepted_until_its_date_and_migrates_without_loss(form_id):
    assert FORMS.versions(form_id) == [1, 2]
    assert FORMS.get(form_id, 1).accept_until == D(2027, 3, 31)
    assert FORMS.get(form_id, 2).accept_until is None
    assert FORMS.accepting(form_id, 1, D(2027, 3, 31)).version == 1
    with pytest.raises(RetiredVersion):
        FORMS.accepting(form_id, 1, D(2027, 4, 1))
    old = PLAN if form_id == "action_plan" else PUBLISHED
    new, report = FORMS.migrate_draft(form_id, 1, 2, old)
    assert new == old and not report.dropped


def test_the_stop_rules_as_defined():
    by_name = {d.name: d for d in SI.definition.deadlines}
    assert by_name["publication_availability"].stop.when_set == ("publication_record.withdrawn_on",)
    assert not by_name["publication_availability"].stop.on_entering  # closure is not a take-down
    assert by_name["reflective_learning_event"].stop.when_set == ("action_plan.reflective_learning_on",)
    assert by_name["reflective_learning_event"].stop.on_entering == ("closed",)
