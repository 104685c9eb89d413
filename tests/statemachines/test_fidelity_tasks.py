"""One test per duty-task of serious_incident version 2 (issue #13 item 5), on the pure engine.

Each case's id starts with its paragraph (docs/serious-incident.md cites these ids). For every
task: it is listed in the case view with the roles that may record it, and those roles (and no
other) may record it where it is open. For a task ``required_before`` an event: with every other
condition of the event met, the event is refused with the one plain reason naming the task while
it is missing, and allowed once it is recorded; where the task has an ``applies_if``, a case it
does not concern is not blocked by it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from statemachines import Actor
from statemachines.definition import ROLES, TaskDef

from .helpers import SI2, SIN_NO, SIN_NOTIFY, referral

TODAY = dt.date(2027, 3, 10)
TASKS = {t.id: t for t in SI2.tasks}


def evidence(task: TaskDef) -> dict[str, Any]:
    """Complete evidence for ``task``: what a person records to mark it done."""
    ev: dict[str, Any] = {}
    if task.evidence.date:
        ev["date"] = "2027-01-04"
    if task.evidence.choice:
        ev["choice"] = task.evidence.choice[0]
    if task.evidence.note:
        ev["note"] = "Recorded by the business team."
    return ev


def done(*task_ids: str) -> dict[str, dict[str, Any]]:
    return {t: evidence(TASKS[t]) for t in task_ids}


# a case that every task of its event concerns: criminal proceedings, domestic abuse, a death, a
# looked-after child, another area involved
EVERYTHING = {
    **referral(looked_after=True),
    "death_or_serious_harm": "died",
    "domestic_abuse_mentioned": "yes",
    "parallel_proceedings": ["criminal"],
    "other_areas_involved": {"local_authorities": ["Brighton & Hove"]},
}
SIN_TOLD = {**SIN_NOTIFY, "child_status": "looked_after", "sos_notified_on": "2026-12-22",
            "ofsted_notified_on": "2026-12-22"}
SENT = {"lcspr_decision": "commission_lcspr", "lcspr_agreed_on": "2026-12-30", "sent_to_panel_on": "2027-01-04"}
PUBLISHED = {"planned_publication_date": "2027-03-01", "published_on": "2027-03-01", "sent_to_panel_on": "2027-02-01",
             "sent_to_sos_on": "2027-02-01", "sent_to_ofsted_on": "2027-02-01"}
FORMS = {
    "crg_referral": EVERYTHING,
    "sin_decision": SIN_TOLD,
    "rapid_review_report": SENT,
    "lcspr_terms_of_reference": {"commissioned_on": "2027-01-10"},
    "publication_record": PUBLISHED,
    "learning_briefing": {"title": "Learning briefing"},
}

# (paragraph, event, state it is fired from, who fires it, the forms that meet its guard)
EVENTS = {
    "notify_panel": ("sin_consideration", Actor(["la_head_of_safeguarding"]), FORMS),
    "decide_not_to_notify": ("sin_consideration", Actor(["la_head_of_safeguarding"]),
                             {**FORMS, "sin_decision": {**SIN_TOLD, "decision": "do_not_notify"}}),
    "sign_off_rapid_review": ("rapid_review_sign_off", Actor(["crg_member"]), FORMS),
    "start_lcspr": ("lcspr_commissioning", Actor(["crg_member"]), FORMS),
    "submit_draft": ("lcspr_in_progress", Actor(["lead_reviewer"]), FORMS),
    "publish": ("pre_publication", Actor(["business_team"]), FORMS),
    "start_monitoring": ("published", Actor(["business_team"]), FORMS),
    "close_other_action": ("other_action", Actor(["business_team"]),
                           {**FORMS, "sin_decision": {**SIN_NO, "alternative_action": "single_agency_review"}}),
}

# (paragraph, task, the event it must precede or None, the referral of a case it does not concern)
DUTIES = [
    ("1.1.14_1.1.41_seed_004", "lead_partnership_confirmed", "notify_panel",
     {**EVERYTHING, "other_areas_involved": {"local_authorities": []}}),
    ("1.1.14_1.1.41_seed_004", "lead_partnership_confirmed", "decide_not_to_notify",
     {**EVERYTHING, "other_areas_involved": {"local_authorities": []}}),
    ("1.1.42", "cross_boundary_disagreement_escalated", None, None),
    ("1.1.43", "looking_after_partnership_joined", "start_lcspr", {**EVERYTHING, "child": referral()["child"]}),
    ("1.1.23", "home_office_nccu_notified", None, None),
    ("1.1.21", "report_shared_for_review", "sign_off_rapid_review", None),
    ("1.1.21_1.1.3", "scrutineer_review", "sign_off_rapid_review", None),
    ("1.1.21", "statutory_leads_oversight", None, None),
    ("1.1.45", "agencies_notified_of_lcspr", "start_lcspr", None),
    ("1.1.45", "regulators_notified", None, None),
    ("1.1.46", "review_panel_independent", "start_lcspr", None),
    ("1.1.46_1.1.59", "domestic_abuse_specialist_involved", "start_lcspr",
     {**EVERYTHING, "domestic_abuse_mentioned": "no"}),
    ("1.1.59", "joint_dardr_decision", "start_lcspr", {**EVERYTHING, "death_or_serious_harm": "seriously_harmed"}),
    ("1.1.35", "police_consulted_on_family_contact", "submit_draft",
     {**EVERYTHING, "parallel_proceedings": ["coroner"]}),
    ("1.1.31-1.1.33_1.1.47", "family_informed", "submit_draft", None),
    ("1.1.34", "translation_arranged", "submit_draft", None),
    ("1.1.34", "third_parties_invited", None, None),
    ("1.1.36-1.1.38", "staff_identified_and_supported", "submit_draft", None),
    ("1.1.39", "police_consulted_on_practitioner_witness", "submit_draft",
     {**EVERYTHING, "parallel_proceedings": ["none_known"]}),
    ("1.1.57_1.1.58", "legal_advice", "publish", {**EVERYTHING, "parallel_proceedings": []}),
    ("1.1.58", "cps_protocol_followed", "publish", {**EVERYTHING, "parallel_proceedings": ["family_court"]}),
    ("1.1.52", "board_approval", "publish", None),
    ("1.1.52_1.1.60", "family_debrief", "publish", None),
    ("1.1.52", "staff_debrief", "publish", None),
    ("1.1.52_1.1.60", "media_plan", "publish", None),
    ("1.1.52", "partnership_response", "publish", None),
    ("1.1.52_1.1.61", "report_disseminated", "start_monitoring", None),
    ("1.1.63_seed_003", "national_panel_reply", None, None),
    ("1.1.3", "alternative_action_completed", "close_other_action", None),
]


def _id(row) -> str:
    para, task, event, _ = row
    return f"{para}-{task}" + (f"-before-{event}" if event else "")


def test_every_task_of_the_definition_has_its_duty_test():
    # a task added to the definition without a row here fails this test
    assert {t.id for t in SI2.tasks} == {row[1] for row in DUTIES}
    assert {(row[1], row[2]) for row in DUTIES if row[2]} == {
        (t.id, e) for t in SI2.tasks for e in t.required_before}


def _forms_for(task: TaskDef) -> dict[str, Any]:
    if task.id == "alternative_action_completed":
        return EVENTS["close_other_action"][2]
    return FORMS


@pytest.mark.parametrize(("para", "task_id", "event", "unconcerned"), DUTIES, ids=[_id(r) for r in DUTIES])
def test_the_case_view_lists_the_task_with_who_may_record_it(para, task_id, event, unconcerned):
    task = TASKS[task_id]
    assert task.source.replace(", ", "_").replace(" ", "_") == para
    forms = _forms_for(task)
    state = task.states[0]
    outsider = Actor([next(r for r in sorted(ROLES) if r not in task.roles)])
    for role in task.roles:
        view = {t["task"]: t for t in SI2.task_view(state, Actor([role]), forms, {"tasks": {}})}
        row = view[task_id]
        assert row["roles"] == list(task.roles) and row["source"] == task.source
        assert row["open_here"] and row["you_can_record"] and not row["done"]
        assert SI2.check_task_record(state, task_id, Actor([role]), evidence(task), forms, {}, TODAY) == (None, [])
    assert not {t["task"]: t for t in SI2.task_view(state, outsider, forms, {})}[task_id]["you_can_record"]
    assert SI2.check_task_record(state, task_id, outsider, evidence(task), forms, {}, TODAY)[0] == "role"
    recorded = {t["task"]: t for t in SI2.task_view(state, outsider, forms, {"tasks": done(task_id)})}
    assert recorded[task_id]["done"] and recorded[task_id]["recorded"] == evidence(task)
    if unconcerned is not None:  # a case the task does not concern does not list it
        other = {**forms, "crg_referral": unconcerned}
        assert task_id not in {t["task"] for t in SI2.task_view(state, outsider, other, {})}


BLOCKING = [r for r in DUTIES if r[2]]


@pytest.mark.parametrize(("para", "task_id", "event", "unconcerned"), BLOCKING, ids=[_id(r) for r in BLOCKING])
def test_a_missing_task_refuses_its_event_with_a_plain_reason_until_recorded(para, task_id, event, unconcerned):
    task = TASKS[task_id]
    state, actor, forms = EVENTS[event]
    # every other task the event needs is recorded: only this one is missing
    others = done(*(t.id for t in SI2.tasks if event in t.required_before and t.id != task_id))
    refused = SI2.evaluate(state, event, actor, forms, {"tasks": others})
    assert not refused.allowed
    assert refused.reasons == [f"Record first: {task.title} ({task.source})."]
    assert [p.kind for p in refused.problems] == ["task_missing"]
    # evidence short of what the task asks does not count
    partial = {k: v for k, v in evidence(task).items() if k != "date"}
    assert not SI2.evaluate(state, event, actor, forms, {"tasks": {**others, task_id: partial}}).allowed
    allowed = SI2.evaluate(state, event, actor, forms, {"tasks": {**others, task_id: evidence(task)}})
    assert allowed.complete, allowed.reasons
    if unconcerned is not None:  # not applicable: the event goes ahead without it
        other = {**forms, "crg_referral": unconcerned}
        assert SI2.evaluate(state, event, actor, other, {"tasks": others}).complete


NON_BLOCKING = [r for r in DUTIES if not r[2]]


@pytest.mark.parametrize(("para", "task_id", "event", "unconcerned"), NON_BLOCKING,
                         ids=[_id(r) for r in NON_BLOCKING])
def test_a_task_the_procedure_sets_no_gate_for_blocks_nothing(para, task_id, event, unconcerned):
    task = TASKS[task_id]
    assert task.required_before == ()
    # recordable, and no event anywhere names it as missing
    for t in SI2.definition.transitions:
        for src in t.sources if t.sources != ("*",) else ():
            if src not in task.states:
                continue
            d = SI2.evaluate(src, t.event, Actor(sorted(ROLES)), FORMS, {"tasks": {}})
            assert not any(task.title in r for r in d.reasons)
