"""Checker errors, the expression whitelist, the CLI and a property test of the engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from statemachines import CaseTypeRegistry, DefinitionInvalid, TransitionRefused
from statemachines.cli import check_cli
from statemachines.engine import approval_status
from statemachines.expressions import ExpressionError, compile_expression
from statemachines.registry import default_definitions_dir

from .helpers import ALL_FOUR, SI, THREE_LEADS

SOURCE = default_definitions_dir() / "serious_incident.yaml"


def broken_copy(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(SOURCE.read_text())
    mutate(raw)
    (tmp_path / "serious_incident.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return tmp_path


def test_broken_definition_names_file_and_path(tmp_path):
    def mutate(raw):
        raw["transitions"][0]["to"] = "sin_considerashun"
        raw["transitions"][3]["guard"] = 'sin_decision.decison == "notify"'
        raw["transitions"][4]["roles"] = ["head_of_everything"]
        raw["deadlines"][0]["due"] = {"working_days_after": -1}

    directory = broken_copy(tmp_path, mutate)
    with pytest.raises(DefinitionInvalid) as exc:
        CaseTypeRegistry.load_dir(directory, {"sin_decision": {"decision"}, "crg_referral": {"la_aware_date"}})
    text = [str(e) for e in exc.value.errors]
    assert any(t.startswith("serious_incident.yaml: transitions[0].to: unknown state") for t in text), text
    assert any("transitions[3].guard" in t and "sin_decision.decison" in t for t in text), text
    assert any("transitions[4].roles: unknown role 'head_of_everything'" in t for t in text), text
    assert any("deadlines[0].due.working_days_after" in t for t in text), text


def test_yaml_syntax_error_and_file_name(tmp_path):
    (tmp_path / "bad.yaml").write_text("case_type: [unclosed\n")
    shutil.copy(SOURCE, tmp_path / "wrong_name.yaml")
    with pytest.raises(DefinitionInvalid) as exc:
        CaseTypeRegistry.load_dir(tmp_path)
    text = [str(e) for e in exc.value.errors]
    assert any(t.startswith("bad.yaml: line") and "YAML syntax error" in t for t in text), text
    assert any(t.startswith("wrong_name.yaml: case_type: file name must be") for t in text), text


def test_versions_are_kept(tmp_path):
    shutil.copy(SOURCE, tmp_path / "serious_incident.yaml")
    raw = yaml.safe_load(SOURCE.read_text())
    raw["version"] = 2
    (tmp_path / "serious_incident.v2.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    reg = CaseTypeRegistry.load_dir(tmp_path)
    assert reg.get("serious_incident").version == 2
    assert reg.get("serious_incident", 1).version == 1
    assert reg.versions("serious_incident") == [1, 2]


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "crg_referral.__class__",
        "crg_referral.child.__dict__",
        "().__class__.__bases__",
        "open('/etc/passwd')",
        "eval('1')",
        "(lambda: 1)()",
        "[x for x in crg_referral.involved_agencies]",
        "crg_referral.involved_agencies[0]",
        "1 + 1 == 2",
    ],
)
def test_expressions_reject_unsafe_syntax(source):
    with pytest.raises(ExpressionError):
        compile_expression(source)


def test_expression_evaluates_safely():
    expr = compile_expression('all(action_plan.actions[].status == "implemented")')
    forms = {"action_plan": {"actions": [{"status": "implemented"}]}}
    assert expr.evaluate(lambda p: __import__("statemachines.expressions").expressions.resolve_path(forms, p))


def test_cli_check_ok_and_broken(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(check_cli, [])
    assert ok.exit_code == 0, ok.output
    assert "case types OK (2 file(s)" in ok.output
    directory = broken_copy(
        tmp_path, lambda raw: raw["states"]["referred"]["forms"].update({"not_a_form_yet": ["admin"]})
    )
    warned = runner.invoke(check_cli, [str(directory)])
    assert warned.exit_code == 0, warned.output
    assert "warning: form 'not_a_form_yet' is not defined yet" in warned.output
    bad = broken_copy(
        tmp_path, lambda raw: raw["transitions"][-1].update(guard='all(action_plan.actions[].stat == "x")')
    )
    res = runner.invoke(check_cli, [str(bad)])
    assert res.exit_code == 1
    assert "serious_incident.yaml: transitions[" in res.output and "action_plan.actions[].stat" in res.output


# -- property: random events never leave the states nor skip guards or approvals -----------

ROLES = sorted({r for t in SI.definition.transitions for r in t.roles})
FORM_VALUES = {
    "crg_referral": st.fixed_dictionaries({"child": st.fixed_dictionaries({"care_leaver": st.booleans()})}),
    "sin_decision": st.fixed_dictionaries(
        {
            "decision": st.sampled_from(["notify", "do_not_notify"]),
            "child_died_or_seriously_harmed": st.booleans(),
            "abuse_or_neglect_known_or_suspected": st.booleans(),
            "notified_on": st.sampled_from([None, "2027-01-04"]),
            "child_status": st.sampled_from(["none", "care_leaver", "looked_after"]),
            "alternative_action": st.sampled_from([None, "single_agency_review"]),
        }
    ),
    "rapid_review_report": st.fixed_dictionaries({"lcspr_decision": st.sampled_from(["commission_lcspr", "no_lcspr"])}),
    "lcspr_quality_assurance": st.fixed_dictionaries(
        {"outcome": st.sampled_from(["approve_for_sign_off", "return_to_reviewer"])}
    ),
    "action_plan": st.fixed_dictionaries(
        {"actions": st.lists(st.fixed_dictionaries({"status": st.sampled_from(["open", "implemented"])}), max_size=3)}
    ),
    "lcspr_terms_of_reference": st.just({"commissioned_on": "2027-01-04"}),
    "publication_record": st.just({"published_on": "2027-06-01"}),
    "learning_briefing": st.just({"summary": "x"}),
}
forms_strategy = st.dictionaries(st.sampled_from(sorted(FORM_VALUES)), st.none()).flatmap(
    lambda keys: st.fixed_dictionaries({k: FORM_VALUES[k] for k in keys})
)
step = st.tuples(
    st.sampled_from(SI.events),
    st.sets(st.sampled_from(ROLES), max_size=2),
    st.sampled_from([(), THREE_LEADS, ALL_FOUR]),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(forms=forms_strategy, steps=st.lists(step, max_size=25))
def test_random_event_sequences(forms, steps):
    from statemachines import Actor

    state = SI.initial_state
    for event, roles, votes, all_received in steps:
        context = {"returns": {"all_received": all_received}}
        actor = Actor(roles)
        candidates = [t for t in SI.transitions_from(state) if t.event == event]
        try:
            new = SI.fire(state, event, actor=actor, forms=forms, context=context, votes=votes)
        except TransitionRefused as refused:
            assert not refused.decision.complete
            continue
        assert new in SI.states
        taken = [t for t in candidates if t.target_of(state) == new]
        assert taken, f"{event} moved {state} -> {new} without a transition"
        t = taken[0]
        assert actor.roles & set(t.roles)
        assert all(forms.get(f) for f in t.requires_forms)
        inputs = SI_inputs(actor, forms, context)
        assert t.guard is None or t.guard.evaluate(lambda p, i=inputs: SI._lookup(i, p))
        assert not t.approvals or approval_status(t.approvals, votes).satisfied
        assert not SI.is_final(state)
        state = new


def SI_inputs(actor, forms, context):  # noqa: N802
    from statemachines.engine import _Inputs

    return _Inputs(actor, forms, context)
