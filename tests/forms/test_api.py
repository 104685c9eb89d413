"""The registry's public API: messages, one answer with every error, documents and ETags, migration
edge cases, load-time refusals, and the check command's reports on broken definitions."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from forms import DefinitionError, FieldError, FormRegistry, MigrationError, UnknownForm, UnknownVersion
from forms.checks import check_definitions
from forms.cli import forms_cli
from forms.registry import default_definitions_dir

TODAY = date(2026, 1, 15)
REG = FormRegistry.load_default()


def _sin(**changes):
    data = copy.deepcopy(REG.latest("sin_decision").examples["valid"][0])
    data.update(changes)
    return data


def _validate(form_id, data, *, final=True, version=None):
    version = version or REG.latest(form_id).version
    return REG.validate(form_id, version, data, final=final, today=TODAY)


# ------------------------------------------------------------------ messages and one answer

def test_every_error_in_one_answer_with_plain_messages():
    data = _sin(decision="maybe", notified_on="7 March", extra_note="x")
    del data["criteria_reasoning"]
    errors = {e.path: e.message for e in _validate("sin_decision", data)}
    assert errors == {
        "/criteria_reasoning": "This field is required",
        "/decision": "Choose one of: Notify, Do not notify",
        "/notified_on": "Enter a date as YYYY-MM-DD",
        "/extra_note": "Remove this field: it is not part of this form",
    }


def test_required_errors_sit_on_the_missing_childs_path():
    data = copy.deepcopy(REG.latest("crg_referral").examples["valid"][0])
    del data["child"]["date_of_birth"]
    del data["referrer"]["email"]
    errors = _validate("crg_referral", data)
    assert errors == [FieldError("/child/date_of_birth", "This field is required"),
                      FieldError("/referrer/email", "This field is required")]
    assert errors[0].rule == "required" and errors[0].to_dict() == {"path": "/child/date_of_birth",
                                                                    "message": "This field is required"}


def test_a_whole_form_of_the_wrong_type_is_one_error():
    assert [e.path for e in _validate("delay_notice", ["not", "an", "object"])] == [""]


def test_do_not_notify_needs_the_alternative_action_and_its_reason():
    data = _sin(decision="do_not_notify")
    del data["notified_on"]
    assert {e.path for e in _validate("sin_decision", data)} == {"/alternative_action",
                                                                 "/alternative_action_reason"}
    data.update(alternative_action="single_agency_review", alternative_action_reason="Learning is for one agency.")
    assert _validate("sin_decision", data) == []


def test_notify_needs_the_date_the_panel_was_notified_for_a_final_only():
    data = _sin()
    del data["notified_on"]
    assert [e.path for e in _validate("sin_decision", data)] == ["/notified_on"]
    assert _validate("sin_decision", data, final=False) == []


@pytest.mark.parametrize("status", ["looked_after", "care_leaver"])
def test_looked_after_or_care_leaver_needs_sos_and_ofsted_dates_in_version_1(status):
    data = _sin(child_status=status)
    assert {e.path for e in _validate("sin_decision", data, version=1)} == {"/sos_notified_on", "/ofsted_notified_on"}
    assert _validate("sin_decision", _sin(child_status="none"), version=1) == []
    # version 2: a seriously harmed looked-after child needs no dates; the case type asks where a child died
    assert _validate("sin_decision", data, version=2) == []


def test_required_inside_then_is_lenient_in_a_draft_but_formats_are_not():
    data = {"decision": "do_not_notify", "child_status": "looked_after", "sos_notified_on": "2025-13-01"}
    assert [e.path for e in _validate("sin_decision", data, final=False, version=1)] == ["/sos_notified_on"]


def test_unknown_form_message_does_not_echo_odd_input():
    with pytest.raises(UnknownForm) as exc:
        REG.get("<script>alert(1)</script>", 1)
    assert "<script>" not in str(exc.value)
    with pytest.raises(UnknownVersion) as exc2:
        REG.get("crg_referral", "2")  # versions are integers
    assert exc2.value.available == REG.versions("crg_referral")


# ------------------------------------------------------------------ documents, ETags, listing

def test_public_document_and_strong_etag():
    doc = REG.public_document("crg_referral", 1)
    assert {"form_id", "version", "schema", "ui_schema", "title"} <= set(doc)
    assert doc["form_id"] == "crg_referral" and doc["version"] == 1 and doc["accept_until"] == "2027-03-31"
    assert "examples" not in doc and "migration" not in doc
    etag = REG.etag("crg_referral", 1)
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith('W/')
    assert etag == FormRegistry.load(default_definitions_dir()).etag("crg_referral", 1)  # stable across loads
    assert etag != REG.etag("crg_referral", 2)
    doc["schema"]["properties"].clear()  # a copy: the registry is not changed
    assert REG.public_document("crg_referral", 1)["schema"]["properties"]


def test_forms_listing():
    listing = {f.form_id: f for f in REG.forms()}
    referral = listing["crg_referral"]
    assert referral.latest == max(v.version for v in referral.versions)
    assert [v.version for v in referral.versions] == REG.versions("crg_referral")
    assert referral.versions[0].accept_until == date(2027, 3, 31)
    assert "agency_safeguarding_lead" in referral.roles
    assert json.loads(json.dumps([f.to_dict() for f in REG.forms()]))  # serialisable


def test_field_paths_use_dots_and_rows():
    paths = REG.field_paths("action_plan", 1)
    assert {"actions", "actions[].status", "actions[].row_id", "signed_off_on"} <= paths
    assert "actions[]" not in paths
    assert {"child.date_of_birth", "family_members[].ethnicity", "chronology[].contact_type"} <= \
        REG.field_paths("rapid_review_agency_return")


# ------------------------------------------------------------------ migration

def test_agency_return_v1_checklist_is_kept_in_the_report():
    draft = REG.get("rapid_review_agency_return", 1).examples["valid"][0]
    new, report = REG.migrate_draft("rapid_review_agency_return", 1, 2, draft)
    dropped = {d.path: d.value for d in report.dropped}
    assert dropped["/family_members/0/protected_characteristics"] == ["age", "sex", "pregnancy_and_maternity"]
    assert "protected_characteristics" not in new["family_members"][0]
    assert new["family_members"][0]["protected_characteristics_details"]  # carried over unchanged
    assert report.to_dict()["_dropped"][0]["version"] == 1


def test_migration_to_the_same_version_changes_nothing_and_backwards_is_refused():
    draft = REG.get("crg_referral", 2).examples["valid"][0]
    same, report = REG.migrate_draft("crg_referral", 2, 2, draft)
    assert same == draft and not report.changed
    with pytest.raises(MigrationError):
        REG.migrate_draft("crg_referral", 2, 1, draft)
    with pytest.raises(UnknownVersion):
        REG.migrate_draft("crg_referral", 1, 5, draft)


def test_rename_onto_a_taken_name_keeps_both_values():
    draft = copy.deepcopy(REG.get("crg_referral", 1).examples["valid"][0])
    draft["incident_summary"] = "typed on a newer device"  # not a v1 field, but a draft may carry it
    new, report = REG.migrate_draft("crg_referral", 1, 2, draft)
    assert new["incident_summary"] == "typed on a newer device"
    kept = [d for d in report.dropped if d.path == "/incident_description"]
    assert kept and kept[0].value == draft["incident_description"] and "already had a value" in kept[0].reason


def test_defaults_never_overwrite():
    draft = copy.deepcopy(REG.get("crg_referral", 1).examples["valid"][0])
    draft["family_informed_of_referral"] = "yes"
    new, report = REG.migrate_draft("crg_referral", 1, 2, draft)
    assert new["family_informed_of_referral"] == "yes"
    assert all(p != "/family_informed_of_referral" for p, _ in report.defaulted)


def _copy_definitions(tmp_path: Path) -> Path:
    target = tmp_path / "definitions"
    shutil.copytree(default_definitions_dir(), target)
    return target


def _edit(path: Path, fn) -> None:
    raw = json.loads(path.read_text())
    fn(raw)
    path.write_text(json.dumps(raw, indent=2))


def test_two_step_migration(tmp_path):
    directory = _copy_definitions(tmp_path)
    assert CliRunner().invoke(forms_cli, ["new-version", "crg_referral", "--dir", str(directory)]).exit_code == 0

    def v3(raw):
        props = raw["schema"]["properties"]
        props["reason_for_crg_referral"] = props.pop("reason_for_referral")
        raw["schema"]["required"] = ["reason_for_crg_referral" if r == "reason_for_referral" else r
                                     for r in raw["schema"]["required"]]
        for section in raw["ui_schema"]["sections"]:
            section["fields"] = ["reason_for_crg_referral" if f == "reason_for_referral" else f
                                 for f in section["fields"]]
        raw["ui_schema"]["fields"]["reason_for_crg_referral"] = raw["ui_schema"]["fields"].pop("reason_for_referral")
        raw["migration"]["renamed"] = [{"from": "reason_for_referral", "to": "reason_for_crg_referral"}]
        for example in raw["examples"]["valid"]:
            example["reason_for_crg_referral"] = example.pop("reason_for_referral")
        raw["examples"]["invalid"] = [{"data": {"reason_for_referral": "old name"}, "final": False,
                                       "errors": ["/reason_for_referral"]}]

    _edit(directory / "crg_referral.v3.json", v3)
    # every shipped form's examples are checked too: on a day after all their dates (some are of late 2026)
    assert check_definitions(directory, today=date(2026, 12, 31), allow_unpublished=True) == []
    registry = FormRegistry.load(directory)
    draft = registry.get("crg_referral", 1).examples["valid"][0]
    new, report = registry.migrate_draft("crg_referral", 1, 3, draft)
    assert report.steps == [2, 3]
    assert new["reason_for_crg_referral"] == draft["reason_for_referral"]
    assert new["incident_summary"] == draft["incident_description"]
    assert registry.validate("crg_referral", 3, new, final=True, today=TODAY) == []


# ------------------------------------------------------------------ load refusals and check reports

def test_gap_in_versions_and_retired_latest_are_refused(tmp_path):
    directory = _copy_definitions(tmp_path)
    (directory / "delay_notice.v1.json").rename(directory / "delay_notice.v3.json")
    _edit(directory / "delay_notice.v3.json", lambda raw: raw.update(version=3, accept_until="2027-01-01"))
    with pytest.raises(DefinitionError) as exc:
        FormRegistry.load(directory, verify_lock=False)
    text = "\n".join(exc.value.problems)
    assert "without gaps" in text and "latest version of a form cannot be retired" in text


def test_check_names_file_and_path_for_each_kind_of_problem(tmp_path):
    directory = _copy_definitions(tmp_path)
    runner = CliRunner()
    assert runner.invoke(forms_cli, ["new-version", "delay_notice", "--dir", str(directory)]).exit_code == 0

    def break_it(raw):
        raw["ui_schema"]["sections"][0]["fields"].append("no_such_field")
        raw["examples"]["invalid"][0]["errors"] = ["/somewhere_else"]
        del raw["schema"]["properties"]["revised_date"]  # gone without a migration rule
        raw["schema"].pop("allOf", None)
        raw["ui_schema"]["fields"].pop("revised_date", None)
        for section in raw["ui_schema"]["sections"]:
            section["fields"] = [f for f in section["fields"] if f != "revised_date"]
        for example in raw["examples"]["valid"]:
            example.pop("revised_date", None)
        raw["schema"]["properties"]["reason"]["type"] = "text"  # not a JSON Schema type

    _edit(directory / "delay_notice.v2.json", break_it)
    result = runner.invoke(forms_cli, ["check", "--dir", str(directory)])
    assert result.exit_code == 1
    assert "delay_notice.v2.json: /schema/properties/reason/type" in result.output  # meta-schema first

    _edit(directory / "delay_notice.v2.json", lambda raw: raw["schema"]["properties"]["reason"].update(type="string"))
    result = runner.invoke(forms_cli, ["check", "--dir", str(directory)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("delay_notice.v2.json: /ui_schema/sections/0/fields/") and "no_such_field" in line
               for line in lines), lines
    assert any(line.startswith("delay_notice.v2.json: /examples/invalid/0:") for line in lines)
    assert any("field revised_date of version 1 is not in version 2" in line for line in lines)
    assert any("not published yet" in line for line in lines)


def test_new_version_refuses_unknown_forms(tmp_path):
    directory = _copy_definitions(tmp_path)
    result = CliRunner().invoke(forms_cli, ["new-version", "no_such_form", "--dir", str(directory)])
    assert result.exit_code != 0 and "no form called no_such_form" in result.output


def test_publish_never_rewrites_a_published_hash(tmp_path):
    directory = _copy_definitions(tmp_path)
    before = (directory / "published.lock").read_text()
    result = CliRunner().invoke(forms_cli, ["lock", "--dir", str(directory)])
    assert result.exit_code == 0 and "nothing to publish" in result.output
    assert json.loads((directory / "published.lock").read_text()) == json.loads(before)


def test_list_command_prints_every_form():
    result = CliRunner().invoke(forms_cli, ["list"])
    assert result.exit_code == 0
    assert {f["form_id"] for f in json.loads(result.output)} == set(REG.form_ids())
