"""The engine's public API: describe/mermaid, the generated python-statemachine machine enforcing
guards by itself, approvals counting, open forms and decisions."""

from __future__ import annotations

import json

import pytest
from statemachine import StateMachine
from statemachine.exceptions import TransitionNotAllowed

from statemachines import (
    Actor,
    ApprovalSlot,
    CaseTypeRegistry,
    TransitionRefused,
    UnknownState,
    Vote,
    approval_status,
    approvals_satisfied,
    eligible_slots,
)
from statemachines.engine import _Inputs

from .helpers import ALL_FOUR, BUSINESS, CRG, HOS, LA_LEAD, POLICE_LEAD, REFERRAL, REGISTRY, SCRUTINEER, SI, SIN_NOTIFY


def test_describe_is_the_case_type_json():
    d = SI.describe()
    assert json.loads(json.dumps(d)) == d  # plain JSON
    assert (d["case_type"], d["version"], d["initial_state"]) == ("serious_incident", 1, "referred")
    assert [s["id"] for s in d["states"]][:3] == ["referred", "sin_consideration", "sin_escalated"]
    t = next(t for t in d["transitions"] if t["event"] == "sign_off_rapid_review")
    assert set(t) >= {"event", "from", "to", "roles", "approvals_needed", "forms_needed"}
    assert t["approvals_needed"] == [
        {"role": "statutory_lead", "sector": "local_authority"},
        {"role": "statutory_lead", "sector": "health"},
        {"role": "statutory_lead", "sector": "police"},
        {"role": "independent_scrutineer", "sector": None},
    ]
    assert t["forms_needed"] == ["rapid_review_report"]
    national = next(t for t in d["transitions"] if t["event"] == "record_national_review")
    assert national["stays"] is True and national["to"] is None
    assert "closed" not in national["from"] and "rapid_review" in national["from"]
    assert [dl["name"] for dl in d["deadlines"]] == [
        "sin_notification",
        "rapid_review_report",
        "lcspr_publication",
        "pre_publication_copies",
        "publication_availability",
        "reflective_learning_event",
    ]
    assert d["deadlines"][0]["due"] == {"working_days_after": 5}
    assert d["deadlines"][3]["due"] == {"working_days_before": 7}
    rr = next(s for s in d["states"] if s["id"] == "rapid_review")
    assert {"form_id": "rapid_review_agency_return", "roles": ["agency_safeguarding_lead", "practitioner"]} in rr[
        "forms"
    ]


def test_mermaid_diagram():
    text = SI.mermaid()
    assert text.startswith("stateDiagram-v2")
    assert "[*] --> referred" in text
    assert "rapid_review_sign_off --> lcspr_commissioning : Sign off rapid review [guard]" in text
    assert "referred --> sin_consideration : Put to crg\n" in text
    assert "%% record_national_review: keeps the state; from every non-final state" in text
    assert "referred --> referred" not in text  # no loops drawn for state-keeping events


def test_the_machine_is_a_cached_python_statemachine():
    assert issubclass(SI.machine_class, StateMachine)
    assert SI.machine_class is SI.machine_class
    assert CaseTypeRegistry.load_default().get("serious_incident").machine_class is not SI.machine_class
    sm = SI.machine("rapid_review")
    assert sm.current_state_value == "rapid_review"
    assert SI.machine().current_state_value == "referred"
    with pytest.raises(UnknownState):
        SI.machine("bogus")
    with pytest.raises(UnknownState):
        SI.evaluate("bogus", "put_to_crg", BUSINESS, {})


def test_the_machine_enforces_guards_roles_forms_and_approvals_by_itself():
    """Straight to python-statemachine, not through evaluate(): nothing is skipped."""
    forms = {"crg_referral": REFERRAL, "sin_decision": SIN_NOTIFY}
    sm = SI.machine("sin_consideration")
    with pytest.raises(TransitionRefused):  # no inputs at all
        sm.send("notify_panel")
    with pytest.raises(TransitionRefused):  # wrong role
        sm.send("notify_panel", evaluation=_Inputs(CRG, forms, {}))
    with pytest.raises(TransitionNotAllowed):  # guard false: no transition's cond holds
        sm.send("notify_panel", evaluation=_Inputs(HOS, {**forms, "sin_decision": {"decision": "notify"}}, {}))
    assert sm.current_state_value == "sin_consideration"  # unchanged after every refusal
    sm.send("notify_panel", evaluation=_Inputs(HOS, forms, {}))
    assert sm.current_state_value == "rapid_review"

    sign_off = SI.machine("rapid_review_sign_off")
    report = {"rapid_review_report": {"lcspr_decision": "commission_lcspr"}}
    with pytest.raises(TransitionRefused):
        sign_off.send("sign_off_rapid_review", evaluation=_Inputs(BUSINESS, report, {}, ALL_FOUR[:3]))
    assert sign_off.current_state_value == "rapid_review_sign_off"
    sign_off.send("sign_off_rapid_review", evaluation=_Inputs(BUSINESS, report, {}, ALL_FOUR))
    assert sign_off.current_state_value == "lcspr_commissioning"


def test_transition_refused_is_a_transition_not_allowed():
    with pytest.raises(TransitionNotAllowed) as exc:
        SI.fire("referred", "put_to_crg", actor=BUSINESS, forms={})
    assert isinstance(exc.value, TransitionRefused)
    assert str(exc.value).startswith("Can't put_to_crg in referred: The form 'crg_referral'")


def test_decisions_explain_every_problem():
    d = SI.evaluate("rapid_review_analysis", "submit_for_sign_off", HOS, {})
    assert not d.allowed and d.forbidden
    assert [p.kind for p in d.problems] == ["role", "form_missing", "guard"]
    assert d.reasons[2] == "The rapid-review report must record the LCSPR decision (1.1.27)."
    d = SI.evaluate("rapid_review_sign_off", "sign_off_rapid_review", BUSINESS, {})
    assert d.target is None  # two possible targets: the report's decision chooses
    assert {p.message for p in d.problems if p.kind == "guard"} == {
        "The rapid-review report must decide no_lcspr.",
        "The rapid-review report must decide commission_lcspr.",
    }
    d = SI.evaluate("rapid_review_sign_off", "sign_off_rapid_review", BUSINESS, {"rapid_review_report": {}})
    assert d.to_dict()["allowed"] is False
    assert json.dumps(d.to_dict())


def test_allowed_events_are_role_wise_and_decisions_follow_them():
    assert SI.allowed_events("referred", BUSINESS) == [
        "put_to_crg",
        "record_national_review",
        "record_no_national_review",
    ]
    assert SI.allowed_events("referred", CRG) == []
    assert SI.allowed_events("sin_consideration", HOS) == ["notify_panel", "decide_not_to_notify"]
    decisions = SI.evaluate_all("sin_consideration", HOS, {"crg_referral": REFERRAL, "sin_decision": SIN_NOTIFY})
    assert [(d.event, d.complete) for d in decisions] == [("notify_panel", True), ("decide_not_to_notify", False)]


def test_open_forms_by_role():
    assert SI.open_forms("rapid_review", ["practitioner"]) == [
        ("rapid_review_agency_return", ("agency_safeguarding_lead", "practitioner"))
    ]
    assert [f for f, _ in SI.open_forms("sin_escalated", ["statutory_lead"])] == ["sin_decision"]
    assert SI.open_forms("closed") == []
    assert not SI.form_open("sin_decision", "referred")
    assert SI.form_open("action_plan", "action_plan_monitoring", ["agency_safeguarding_lead"])


def test_approval_slots_and_votes():
    slots = SI.approval_slots("rapid_review_sign_off", "sign_off_rapid_review", {"rapid_review_report": {}})
    assert slots == ()  # no guard holds: no transition, no slots
    report = {"rapid_review_report": {"lcspr_decision": "no_lcspr"}}
    slots = SI.approval_slots("rapid_review_sign_off", "sign_off_rapid_review", report)
    assert [s.label for s in slots] == [
        "statutory_lead (local authority)",
        "statutory_lead (health)",
        "statutory_lead (police)",
        "independent_scrutineer",
    ]
    assert eligible_slots(slots, POLICE_LEAD) == (ApprovalSlot("statutory_lead", "police"),)
    assert eligible_slots(slots, SCRUTINEER) == (ApprovalSlot("independent_scrutineer"),)
    assert eligible_slots(slots, CRG) == ()
    assert approvals_satisfied(slots, ALL_FOUR)
    assert not approvals_satisfied(slots, ALL_FOUR[:3])
    # one person fills one slot, whatever their roles: the same voter twice counts once (latest vote)
    both = Actor(["statutory_lead", "independent_scrutineer"], "police")
    assert eligible_slots(slots, both) == (
        ApprovalSlot("statutory_lead", "police"),
        ApprovalSlot("independent_scrutineer"),
    )
    same_person = (*ALL_FOUR[:3], Vote("independent_scrutineer", None, "approve", "police"))
    status = approval_status(slots, same_person)
    assert not status.satisfied and len(status.filled) == 3
    # an approval from outside the slots is ignored; a rejection from outside too
    outsider = (*ALL_FOUR, Vote("crg_member", None, "reject", "crg"))
    assert approvals_satisfied(slots, outsider)
    # an eligible rejection refuses, until that person changes their vote
    rejected = (*ALL_FOUR, Vote("statutory_lead", "local_authority", "reject", "la"))
    assert approval_status(slots, rejected).rejected_by == (rejected[-1],)
    assert not approvals_satisfied(slots, rejected)
    assert approvals_satisfied(slots, (*rejected, Vote("statutory_lead", "local_authority", "approve", "la")))
    # a slot without a sector takes any sector; a sector slot only its own
    assert approvals_satisfied([ApprovalSlot("statutory_lead")], [Vote("statutory_lead", "police", "approve")])
    assert not approvals_satisfied(
        [ApprovalSlot("statutory_lead", "health")], [Vote("statutory_lead", "police", "approve")]
    )
    # matching is maximal: a sector-less slot does not steal the only police vote
    slots2 = [ApprovalSlot("statutory_lead"), ApprovalSlot("statutory_lead", "police")]
    votes2 = [Vote("statutory_lead", "police", "approve", "p"), Vote("statutory_lead", "health", "approve", "h")]
    assert approvals_satisfied(slots2, votes2)
    with pytest.raises(ValueError):
        Vote("statutory_lead", "police", "maybe")  # type: ignore[arg-type]
    assert LA_LEAD.sector == "local_authority" and Actor("crg_member").roles == frozenset({"crg_member"})


def test_notifications():
    assert SI.notifications_on_enter("rapid_review")[0].to_dict() == {"involved_agencies": ["agency_safeguarding_lead"]}
    assert SI.notifications_on_enter("closed") == ()
    assert [n.to_dict() for n in SI.notifications_on_enter("rapid_review_sign_off")] == [
        {"roles": ["statutory_lead", "independent_scrutineer"]}
    ]
    with pytest.raises(KeyError):
        SI.notifications_on_overdue("no_such_clock")


def _reference_open(ct, form_id: str, state: str, roles=None) -> bool:
    # what form_open answered before form_access: membership in the list of open forms
    return any(fid == form_id for fid, _ in ct.open_forms(state, roles))


def test_form_access_answers_both_form_open_questions_in_one_walk():
    import yaml

    from statemachines.definition import parse_definition
    from statemachines.engine import CaseType

    from .test_data_only_case_types import LEARNING_REVIEW

    raw = yaml.safe_load(LEARNING_REVIEW)
    # a form both in a state's own list and open in all states, with other roles: every entry counts
    raw["states"]["reviewing"]["forms"]["delay_notice"] = ["crg_member"]
    raw["forms_in_all_states"]["delay_notice"]["include_final"] = True
    definition, errors = parse_definition(raw, "dup.yaml")
    assert not errors, errors
    case_types = [*REGISTRY.all(), CaseType(definition)]
    checked = 0
    for ct in case_types:
        forms = sorted(ct.definition.form_ids() | {"no_such_form"})
        roles = sorted({r for s in ct.states for _, rs in ct.open_forms(s) for r in rs})
        role_sets = [[], ["nobody"], roles, *([r] for r in roles), *([r, "nobody"] for r in roles[:2])]
        for state in ct.states:
            for form_id in forms:
                assert ct.form_open(form_id, state) == _reference_open(ct, form_id, state)
                for rs in role_sets:
                    expect = (_reference_open(ct, form_id, state), _reference_open(ct, form_id, state, rs))
                    assert ct.form_access(form_id, state, rs) == expect, (ct, state, form_id, rs)
                    assert ct.form_open(form_id, state, rs) == expect[1]
                    checked += 1
    assert checked > 1000
    dup = case_types[-1]
    assert dup.form_access("delay_notice", "reviewing", ["business_team"]) == (True, True)
    assert dup.form_access("delay_notice", "reviewing", ["crg_member"]) == (True, True)
    assert dup.form_access("delay_notice", "closed", ["business_team"]) == (True, True)
    assert dup.form_access("delay_notice", "closed", ["crg_member"]) == (True, False)
