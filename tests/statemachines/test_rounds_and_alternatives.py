"""Re-entered states (``fresh_forms``: an earlier round's final form does not count) and refusal
reasons that fit the case (``applies_if``: only the alternatives that apply are explained)."""

from __future__ import annotations

import copy

import pytest

from statemachines import TransitionRefused
from statemachines.check import parse_and_check
from statemachines.engine import CaseType
from statemachines.values import Timeline

from .helpers import ALL_FOUR, BUSINESS, CRG, HOS, REFERRAL, SI, SIN_NOTIFY, referral

QA = "lcspr_quality_assurance"
RR = "rapid_review_report"
TO_QA = ("referred", "sin_consideration", "rapid_review", "rapid_review_analysis", "rapid_review_sign_off",
         "lcspr_commissioning", "lcspr_in_progress", "lcspr_quality_assurance")  # fmt: skip
SECOND_QA = (*TO_QA, "lcspr_in_progress", "lcspr_quality_assurance")  # positions 0..9
RETURN = {QA: {"outcome": "return_to_reviewer"}}
APPROVE = {QA: {"outcome": "approve_for_sign_off"}}


# -- Timeline ------------------------------------------------------------------------------------
def test_a_round_starts_just_after_the_case_last_left_the_state():
    assert Timeline(TO_QA).round_start(QA) == 0  # first visit: any final counts
    assert Timeline(SECOND_QA).round_start(QA) == 8  # left the first QA round at position 8
    # an event that keeps the state (a national-review note) is the same visit, not a new round
    assert Timeline((*TO_QA, QA, QA)).round_start(QA) == 0
    assert Timeline((*SECOND_QA, QA)).round_start(QA) == 8
    with pytest.raises(ValueError, match="ends in"):
        Timeline(TO_QA).round_start("lcspr_in_progress")
    with pytest.raises(ValueError):
        Timeline(()).round_start(QA)


# -- QA rounds ------------------------------------------------------------------------------------
def test_second_qa_round_refuses_the_first_rounds_form_until_it_is_submitted_again():
    stale = Timeline(SECOND_QA, {QA: 7})  # submitted during the first QA round
    d = SI.evaluate(QA, "complete_quality_assurance", CRG, RETURN, timeline=stale)
    assert not d.allowed and not d.forbidden
    assert [p.kind for p in d.problems][0] == "form_stale"
    assert QA in d.reasons[0] and "earlier round" in d.reasons[0] and "again" in d.reasons[0]
    assert SI.stale_forms(QA, RETURN, stale) == {QA}
    with pytest.raises(TransitionRefused) as exc:  # the generated machine refuses too
        SI.fire(QA, "complete_quality_assurance", actor=CRG, forms=RETURN, timeline=stale)
    assert exc.value.decision.problems[0].kind == "form_stale"
    # the form's other alternatives are explained as well, but no "missing form" noise
    assert "form_missing" not in {p.kind for p in d.problems}
    # amended in this round (a new final at position 9): allowed, and its outcome decides
    fresh = Timeline(SECOND_QA, {QA: 9})
    assert SI.fire(QA, "complete_quality_assurance", actor=CRG, forms=APPROVE, timeline=fresh) == "lcspr_approval"
    assert SI.fire(QA, "complete_quality_assurance", actor=CRG, forms=RETURN, timeline=fresh) == "lcspr_in_progress"
    assert SI.stale_forms(QA, APPROVE, fresh) == frozenset()


def test_first_round_and_callers_without_a_timeline_behave_as_before():
    first = Timeline(TO_QA, {QA: 7})
    assert SI.fire(QA, "complete_quality_assurance", actor=CRG, forms=RETURN, timeline=first) == "lcspr_in_progress"
    assert SI.fire(QA, "complete_quality_assurance", actor=CRG, forms=RETURN) == "lcspr_in_progress"
    # a state-keeping event in the round does not make the round's form stale
    noted = Timeline((*SECOND_QA, QA), {QA: 9})
    assert SI.evaluate(QA, "complete_quality_assurance", CRG, RETURN, timeline=noted).complete
    # a form never submitted is missing, not stale
    d = SI.evaluate(QA, "complete_quality_assurance", CRG, {}, timeline=Timeline(SECOND_QA))
    assert "form_missing" in {p.kind for p in d.problems} and "form_stale" not in {p.kind for p in d.problems}


def test_a_form_without_a_recorded_position_counts_as_from_the_start():
    d = SI.evaluate(QA, "complete_quality_assurance", CRG, RETURN, timeline=Timeline(SECOND_QA))
    assert d.problems[0].kind == "form_stale"


def test_case_view_decisions_show_the_stale_form():
    decisions = SI.evaluate_all(QA, CRG, APPROVE, timeline=Timeline(SECOND_QA, {QA: 7}))
    (qa,) = decisions
    assert not qa.allowed and qa.problems[0].kind == "form_stale"


# -- rapid-review report after a sign-off rejection -------------------------------------------------
RR_FORMS = {"crg_referral": REFERRAL, "sin_decision": SIN_NOTIFY, RR: {"lcspr_decision": "commission_lcspr"}}
RETURNED = ("referred", "sin_consideration", "rapid_review", "rapid_review_analysis", "rapid_review_sign_off",
            "rapid_review_analysis")  # fmt: skip


def test_rapid_review_report_must_be_submitted_again_after_return_to_analysis():
    analysis = "rapid_review_analysis"
    stale = Timeline(RETURNED, {RR: 3})
    d = SI.evaluate(analysis, "submit_for_sign_off", CRG, RR_FORMS, timeline=stale)
    assert d.problems[0].kind == "form_stale" and RR in d.reasons[0]
    with pytest.raises(TransitionRefused):
        SI.fire(analysis, "submit_for_sign_off", actor=CRG, forms=RR_FORMS, timeline=stale)
    fresh = Timeline(RETURNED, {RR: 5})
    assert SI.fire(analysis, "submit_for_sign_off", actor=CRG, forms=RR_FORMS, timeline=fresh) == (
        "rapid_review_sign_off")
    # first entry: a report finalised in rapid_review (explaining omissions) still counts
    first = Timeline(RETURNED[:4], {RR: 2})
    assert SI.evaluate(analysis, "submit_for_sign_off", CRG, RR_FORMS, timeline=first).complete
    # the second sign-off round needs the report of this round as well
    again = (*RETURNED, "rapid_review_sign_off")
    d = SI.evaluate("rapid_review_sign_off", "sign_off_rapid_review", BUSINESS, RR_FORMS,
                    votes=ALL_FOUR, timeline=Timeline(again, {RR: 3}))
    assert d.problems[0].kind == "form_stale"
    assert SI.fire("rapid_review_sign_off", "sign_off_rapid_review", actor=BUSINESS, forms=RR_FORMS,
                   votes=ALL_FOUR, timeline=Timeline(again, {RR: 5})) == "lcspr_commissioning"


def test_publication_record_is_confirmed_after_a_deferral():
    states = ("pre_publication", "publication_deferred", "pre_publication")
    forms = {"publication_record": {"published_on": "2026-11-20"}}
    pre = "pre_publication"
    before = Timeline(states, {"publication_record": 0})  # confirmed before the deferral
    assert not SI.evaluate(pre, "publish", BUSINESS, forms, timeline=before).allowed
    # amended while deferred (after the first round ended) counts
    assert SI.fire(pre, "publish", actor=BUSINESS, forms=forms,
                   timeline=Timeline(states, {"publication_record": 1})) == "published"


def test_describe_lists_fresh_forms_and_applies_if():
    described = SI.describe()
    states = {s["id"]: s for s in described["states"]}
    assert states[QA]["fresh_forms"] == [QA]
    assert states["rapid_review_analysis"]["fresh_forms"] == [RR]
    assert states["referred"]["fresh_forms"] == []
    notify = [t for t in described["transitions"] if t["event"] == "notify_panel"]
    assert all(t["applies_if"] for t in notify)
    assert "care_leaver" in notify[0]["applies_if"] and notify[1]["applies_if"].startswith("not ")


# -- applies_if: reasons for the caller's situation ----------------------------------------------------
CARE_REASON = "A care leaver aged 18 to 24"
SIN_REASON = "The final SIN decision must say notify"


def _reasons(state, forms):
    d = SI.evaluate(state, "notify_panel", HOS, forms)
    assert not d.allowed
    return d.reasons


@pytest.mark.parametrize("state", ["sin_consideration", "sin_escalated"])
def test_a_child_who_is_not_a_care_leaver_hears_only_the_sin_reason(state):
    reasons = _reasons(state, {"crg_referral": REFERRAL, "sin_decision": {**SIN_NOTIFY, "notified_on": None}})
    assert any(r.startswith(SIN_REASON) for r in reasons)
    assert not any(CARE_REASON in r for r in reasons), reasons
    # a care leaver under 18 is on the SIN route too
    reasons = _reasons(state, {"crg_referral": referral(care_leaver=True, date_of_birth="2010-01-01"),
                               "sin_decision": {**SIN_NOTIFY, "decision": "do_not_notify"}})
    assert not any(CARE_REASON in r for r in reasons), reasons


@pytest.mark.parametrize("dob", ["2006-03-01", "1996-03-01"])  # aged 20, and aged 30 (too old for either)
def test_an_adult_care_leaver_hears_only_the_care_leaver_reason(dob):
    reasons = _reasons("sin_consideration", {"crg_referral": referral(care_leaver=True, date_of_birth=dob),
                                             "sin_decision": SIN_NOTIFY})
    assert [r for r in reasons if CARE_REASON in r] and not any(r.startswith(SIN_REASON) for r in reasons)
    d = SI.evaluate("sin_consideration", "notify_panel", HOS,
                    {"crg_referral": referral(care_leaver=True, date_of_birth=dob), "sin_decision": SIN_NOTIFY})
    assert d.target == "closed"  # one alternative applies, so the refusal names where it leads


def test_without_the_sin_decision_the_missing_form_is_named_once():
    d = SI.evaluate("sin_consideration", "notify_panel", HOS, {"crg_referral": REFERRAL})
    assert [p.kind for p in d.problems].count("form_missing") == 1
    assert not any(CARE_REASON in r for r in d.reasons)


MINI = {
    "case_type": "mini",
    "version": 1,
    "title": "Alternatives",
    "states": {
        "open": {"initial": True, "forms": {"decision": ["crg_member"]}},
        "review": {"forms": {"decision": ["crg_member"]}},
        "a": {}, "b": {},
        "done": {"final": True},
    },
    "transitions": [
        {"event": "go", "from": "open", "to": "a", "roles": ["crg_member"], "requires_forms": ["decision"],
         "applies_if": 'decision.kind == "a"', "guard": "is_set(decision.decided_on)",
         "reason": "Route A needs a date."},
        {"event": "go", "from": "open", "to": "b", "roles": ["crg_member"], "requires_forms": ["decision"],
         "applies_if": 'decision.kind == "b"', "guard": 'decision.outcome == "yes"', "reason": "Route B needs yes."},
        {"event": "check", "from": ["a", "b"], "to": "review", "roles": ["crg_member"]},
        {"event": "send_back", "from": "review", "to": "open", "roles": ["crg_member"]},
        {"event": "finish", "from": "review", "to": "done", "roles": ["crg_member"], "requires_forms": ["decision"]},
    ],
}  # fmt: skip
CATALOGUE = {"decision": {"kind", "decided_on", "outcome"}}
SAME_GUARD = "is_set(decision.decided_on)"


def _mini(mutate=lambda raw: None):
    raw = copy.deepcopy(MINI)
    mutate(raw)
    defn, errors = parse_and_check(raw, "mini.yaml", CATALOGUE)
    return defn, [str(e) for e in errors]


def test_alternatives_that_do_not_apply_are_not_explained_and_none_applying_explains_all():
    defn, errors = _mini()
    assert errors == []
    ct = CaseType(defn)
    assert ct.evaluate("open", "go", CRG, {"decision": {"kind": "a"}}).reasons == ["Route A needs a date."]
    assert ct.evaluate("open", "go", CRG, {"decision": {"kind": "b"}}).reasons == ["Route B needs yes."]
    assert ct.evaluate("open", "go", CRG, {"decision": {"kind": "c"}}).reasons == [
        "Route A needs a date.", "Route B needs yes."]
    # applies_if is part of the condition: a guard that holds on the wrong route does not fire it
    assert ct.fire("open", "go", actor=CRG, forms={"decision": {"kind": "b", "outcome": "yes"}}) == "b"
    with pytest.raises(TransitionRefused):
        ct.fire("open", "go", actor=CRG, forms={"decision": {"kind": "a", "outcome": "yes"}})


def _add(path, value):
    def mutate(raw):
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_add(["transitions", 0, "applies_if"], "decision.knd == 1"),
         "mini.yaml: transitions[0].applies_if: unknown field decision.knd (did you mean decision.kind?)"),
        (_add(["transitions", 0, "applies_if"], "decision.kind =="), "mini.yaml: transitions[0].applies_if: "),
        (lambda raw: raw["transitions"][1].update(applies_if='decision.kind == "a"', guard=SAME_GUARD),
         "mini.yaml: transitions[1].guard: duplicate event 'go' from 'open' without a distinguishing guard"),
        (lambda raw: raw["transitions"][1].pop("guard") and raw["transitions"][1].pop("reason"),
         "mini.yaml: transitions[1].reason: a guard needs a plain-English reason shown when it fails"),
        (_add(["states", "review", "fresh_forms"], ["decison"]),
         "mini.yaml: states.review.fresh_forms[0]: unknown form 'decison'"),
        (_add(["states", "done", "fresh_forms"], ["decision"]),
         "mini.yaml: states.done.fresh_forms: state 'done' is never re-entered"),
        (_add(["states", "a", "fresh_forms"], ["decision"]),
         "mini.yaml: states.a.fresh_forms[0]: no transition from 'a' requires or reads the form 'decision'"),
        (_add(["states", "review", "fresh_forms"], "decision"), None),  # a single id is fine
    ],
)
def test_check_applies_if_and_fresh_forms(mutate, expected):
    _, errors = _mini(mutate)
    if expected is None:
        assert errors == []
    else:
        assert any(e.startswith(expected) for e in errors), errors


def test_fresh_form_must_be_open_somewhere_in_the_loop():
    # 'decision' is open only in 'open' and 'review': fine for review (it is open there) ...
    assert _mini(_add(["states", "review", "fresh_forms"], ["decision"]))[1] == []

    # ... but not once review stops opening it and the loop back passes no state that does
    def closed_loop(raw):
        raw["states"]["review"]["fresh_forms"] = ["decision"]
        raw["states"]["review"]["forms"] = {}
        raw["transitions"][3]["to"] = "a"  # send_back: review -> a -> review, never through 'open'
        raw["states"]["open"]["forms"] = {"decision": ["crg_member"]}

    _, errors = _mini(closed_loop)
    assert any("is not open in 'review' or any state before the case returns to it" in e for e in errors), errors


def test_a_transition_with_applies_if_and_no_guard_does_not_shadow_the_next():
    def mutate(raw):
        raw["transitions"][0].pop("guard")

    assert _mini(mutate)[1] == []
