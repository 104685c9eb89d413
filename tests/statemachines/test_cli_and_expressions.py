"""Checker errors on the real definition, the expression whitelist and the ``caseflow check`` CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from statemachines import CaseTypeRegistry, DefinitionInvalid
from statemachines.cli import check_cli
from statemachines.expressions import ExpressionError, compile_expression
from statemachines.registry import default_definitions_dir

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
    shipped = len(list(default_definitions_dir().glob("*.yaml")))
    assert f"case types OK ({shipped} file(s)" in ok.output
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
