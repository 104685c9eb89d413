"""The form definitions and the forms package: examples, drafts, errors, versions, lock, migration, CLI."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from forms import DefinitionError, FormRegistry, RetiredVersion, UnknownForm, UnknownVersion
from forms.checks import check_definitions, validate_version
from forms.cli import forms_cli
from forms.registry import default_definitions_dir

TODAY = date(2026, 1, 15)
FORMS = {"crg_referral", "sin_decision", "rapid_review_agency_return", "rapid_review_report",
         "lcspr_terms_of_reference", "lcspr_quality_assurance", "publication_record", "action_plan",
         "learning_briefing", "delay_notice", "death_notification", "jar_referral",
         "national_review_contribution", "practice_learning_decision", "practice_learning_referral"}
# Forms added after TODAY: their examples carry dates up to this day, so they are validated on it
# (the not-in-the-future rule); the older forms keep TODAY. None of them has a conditional rule.
LATER_FORMS_DAY = date(2026, 11, 1)
LATER_FORMS = {"death_notification", "jar_referral", "national_review_contribution",
               "practice_learning_decision", "practice_learning_referral"}
REG = FormRegistry.load_default()
VERSIONS = [REG.get(f, v) for f in REG.form_ids() for v in REG.versions(f)]
IDS = [f"{fv.form_id}.v{fv.version}" for fv in VERSIONS]


def _examples_day(fv):
    return LATER_FORMS_DAY if fv.form_id in LATER_FORMS else TODAY


def test_every_form_is_defined():
    assert set(REG.form_ids()) == FORMS
    assert all(fv.published for fv in VERSIONS)


@pytest.mark.parametrize("fv", VERSIONS, ids=IDS)
def test_valid_examples_pass_final_and_draft(fv):
    assert fv.examples["valid"]
    for data in fv.examples["valid"]:
        assert validate_version(fv, data, final=True, today=_examples_day(fv)) == []
        assert validate_version(fv, data, final=False, today=_examples_day(fv)) == []


@pytest.mark.parametrize("fv", VERSIONS, ids=IDS)
def test_invalid_examples_fail_with_exactly_the_expected_paths(fv):
    assert fv.examples["invalid"]
    for case in fv.examples["invalid"]:
        errors = validate_version(fv, case["data"], final=case.get("final", True), today=_examples_day(fv))
        assert {e.path for e in errors} == set(case["errors"]), case.get("note")


@pytest.mark.parametrize("fv", VERSIONS, ids=IDS)
def test_conditional_rules_and_rows(fv):
    text = json.dumps(fv.schema)
    if fv.form_id in LATER_FORMS:
        # these forms have no conditional obligations and no repeating rows
        assert '"if"' not in text and '"then"' not in text
        assert not any(p.endswith("[].row_id") for p in fv.fields)
        return
    assert '"if"' in text and '"then"' in text
    assert any(p.endswith("[].row_id") for p in fv.fields) or fv.form_id in {
        "lcspr_quality_assurance", "publication_record", "delay_notice"}


def test_contract_fields_exist():
    paths = {f: REG.field_paths(f) for f in FORMS}
    assert {"la_aware_date", "child.date_of_birth", "child.looked_after", "child.care_leaver",
            "involved_agencies"} <= paths["crg_referral"]
    assert {"child_died_or_seriously_harmed", "abuse_or_neglect_known_or_suspected", "decision",
            "notified_on"} <= paths["sin_decision"]
    assert "lcspr_decision" in paths["rapid_review_report"]
    assert "commissioned_on" in paths["lcspr_terms_of_reference"]
    assert "planned_publication_date" in paths["publication_record"]
    assert "actions[].status" in paths["action_plan"]
    assert "agency_id" in REG.latest("rapid_review_agency_return").schema["properties"]
    assert REG.get("action_plan", 1).fields["actions[].status"]["enum"] == ["open", "in_progress", "implemented"]
    assert REG.get("sin_decision", 1).fields["decision"]["enum"] == ["notify", "do_not_notify"]


def _sin(**kw):
    return {**REG.get("sin_decision", 1).examples["valid"][0], **kw}


def test_draft_is_lenient_final_is_strict():
    partial = {"decision": "notify", "child_status": "looked_after"}
    assert REG.validate("sin_decision", 1, partial, final=False, today=TODAY) == []
    final = {e.path for e in REG.validate("sin_decision", 1, partial, final=True, today=TODAY)}
    assert {"/notified_on", "/sos_notified_on", "/ofsted_notified_on", "/decision_date"} <= final
    # a draft still checks types, formats and enums
    bad = {e.path for e in REG.validate("sin_decision", 1, {"decision": "x", "notified_on": "soon"},
                                        final=False, today=TODAY)}
    assert bad == {"/decision", "/notified_on"}


def test_not_future_dates_use_today():
    data = _sin(notified_on="2026-01-16")
    assert [e.path for e in REG.validate("sin_decision", 1, data, final=True, today=TODAY)] == ["/notified_on"]
    assert REG.validate("sin_decision", 1, data, final=True, today=date(2026, 1, 16)) == []


SENTINEL = "SENTINEL-7f3a-do-not-echo"


@pytest.mark.parametrize("fv", VERSIONS, ids=IDS)
def test_errors_never_echo_submitted_values(fv):
    def poison(node):
        if isinstance(node, dict):
            return {k: poison(v) for k, v in node.items()}
        if isinstance(node, list):
            return [poison(v) for v in node]
        if isinstance(node, str):
            return SENTINEL
        return node

    data = poison(fv.examples["valid"][0])
    data[SENTINEL] = SENTINEL
    for final in (True, False):
        errors = validate_version(fv, data, final=final, today=TODAY)
        assert errors
        for e in errors:
            assert SENTINEL not in e.message


def test_unknown_form_and_version():
    with pytest.raises(UnknownForm):
        REG.get("no_such_form", 1)
    with pytest.raises(UnknownVersion) as exc:
        REG.get("crg_referral", 9)
    assert exc.value.available == [1, 2]
    assert "1, 2" in str(exc.value)
    with pytest.raises(UnknownVersion):
        REG.validate("sin_decision", 7, {}, final=False, today=TODAY)
    with pytest.raises(UnknownVersion):
        REG.get("sin_decision", True)


def test_retired_version_accepted_until_its_date_then_refused():
    v1 = REG.get("crg_referral", 1)
    assert v1.accept_until is not None
    data = v1.examples["valid"][0]
    assert REG.validate("crg_referral", 1, data, final=True, today=v1.accept_until) == []
    with pytest.raises(RetiredVersion) as exc:
        REG.validate("crg_referral", 1, data, final=True, today=date.fromordinal(v1.accept_until.toordinal() + 1))
    assert exc.value.latest == 2
    # still readable for old drafts
    assert REG.get("crg_referral", 1).version == 1


def _copy_definitions(tmp_path: Path) -> Path:
    target = tmp_path / "definitions"
    shutil.copytree(default_definitions_dir(), target)
    return target


def test_lock_detects_a_changed_published_file(tmp_path):
    directory = _copy_definitions(tmp_path)
    FormRegistry.load(directory)
    path = directory / "sin_decision.v1.json"
    raw = json.loads(path.read_text())
    raw["schema"]["properties"]["decision_reasoning"]["maxLength"] = 10
    path.write_text(json.dumps(raw, indent=2))
    with pytest.raises(DefinitionError) as exc:
        FormRegistry.load(directory)
    assert any("sin_decision.v1.json" in p and "published" in p for p in exc.value.problems)
    assert any("changed after it was published" in p for p in check_definitions(directory, today=TODAY))


def test_lock_allows_retiring_and_reformatting(tmp_path):
    directory = _copy_definitions(tmp_path)
    path = directory / "crg_referral.v1.json"
    raw = json.loads(path.read_text())
    raw["accept_until"] = "2027-06-30"
    path.write_text(json.dumps(raw))  # new date, no indentation
    assert FormRegistry.load(directory).get("crg_referral", 1).accept_until == date(2027, 6, 30)


def test_missing_published_file_is_reported(tmp_path):
    directory = _copy_definitions(tmp_path)
    (directory / "delay_notice.v2.json").unlink()
    assert any("delay_notice.v2.json was published" in p for p in check_definitions(directory, today=TODAY))


def _leaves(node, out):
    if isinstance(node, dict):
        for v in node.values():
            _leaves(v, out)
    elif isinstance(node, list):
        for v in node:
            _leaves(v, out)
    else:
        out.append(json.dumps(node))
    return out


def test_migration_v1_to_v2_never_drops_a_value_silently():
    draft = copy.deepcopy(REG.get("crg_referral", 1).examples["valid"][0])
    draft["child"]["nhs_number"] = "485 777 3456"
    draft["stray_field"] = "kept in the report"
    new, report = REG.migrate_draft("crg_referral", 1, 2, draft)
    assert report.steps == [2]
    assert "incident_summary" in new and "incident_description" not in new
    assert new["other_children"][0]["immediate_safeguarding"]
    assert new["family_informed_of_referral"] == "not_yet_decided"
    dropped = {d.path: d for d in report.dropped}
    assert dropped["/child/nhs_number"].value == "485 777 3456" and dropped["/child/nhs_number"].reason
    assert dropped["/stray_field"].value == "kept in the report"
    kept = _leaves(new, []) + _leaves([d.value for d in report.dropped], [])
    for leaf in _leaves(draft, []):
        assert leaf in kept, leaf
    assert draft["child"]["nhs_number"] == "485 777 3456"  # input untouched
    assert REG.validate("crg_referral", 2, new, final=True, today=TODAY) == []


def test_cli_check_exits_0():
    result = CliRunner().invoke(forms_cli, ["check"])
    assert result.exit_code == 0, result.output
    assert "forms OK" in result.output


def test_cli_new_version_then_check_needs_publish(tmp_path):
    directory = _copy_definitions(tmp_path)
    runner = CliRunner()
    result = runner.invoke(forms_cli, ["new-version", "learning_briefing", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    assert (directory / "learning_briefing.v2.json").exists()
    result = runner.invoke(forms_cli, ["check", "--dir", str(directory)])
    assert result.exit_code == 1 and "not published yet" in result.output
    result = runner.invoke(forms_cli, ["publish", "learning_briefing", "--dir", str(directory)])
    assert result.exit_code == 0 and "published learning_briefing.v2.json" in result.output
    assert runner.invoke(forms_cli, ["check", "--dir", str(directory)]).exit_code == 0
