"""`caseflow check` refuses a bad hand-off declaration (ADR 0033): an unknown case type, a form that
does not open the new case, unknown fields on either side, a role that could not open the new case,
and malformed mappings; each error names the file and the path inside it."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from forms.registry import FormRegistry
from statemachines.check import catalogue_from_form_registry, check_hand_offs, parse_and_check
from statemachines.definition import DefinitionInvalid
from statemachines.registry import CaseTypeRegistry, default_definitions_dir

CATALOGUE = catalogue_from_form_registry(FormRegistry.load_default())
FILE = "child_death_jar_referral.v2.yaml"
RAW = yaml.safe_load((default_definitions_dir() / FILE).read_text())
OTHERS = [parse_and_check(yaml.safe_load(p.read_text()), p.name, CATALOGUE)[0]
          for p in sorted(default_definitions_dir().glob("*.yaml")) if p.name != FILE]
REFER = next(i for i, t in enumerate(RAW["transitions"]) if t["event"] == "refer_as_serious_incident")


def errors_with(change) -> list[str]:
    raw = copy.deepcopy(RAW)
    change(raw["transitions"][REFER])
    defn, errors = parse_and_check(raw, FILE, CATALOGUE)
    if defn is not None:
        errors += check_hand_offs([*OTHERS, defn], CATALOGUE)
    return [str(e) for e in errors]


def test_the_shipped_hand_offs_pass():
    assert errors_with(lambda t: None) == []


@pytest.mark.parametrize(("change", "expected"), [
    (lambda t: t["hand_off"].update(case_type="serious_incidnet"),
     f"{FILE}: transitions[{REFER}].hand_off.case_type: unknown case type 'serious_incidnet' "
     "(did you mean serious_incident?)"),
    (lambda t: t["hand_off"]["carry"].update({"child.nmae": "jar_referral.findings_summary"}),
     f"{FILE}: transitions[{REFER}].hand_off.carry.child.nmae: unknown field crg_referral.child.nmae "
     "(did you mean child.name?)"),
    (lambda t: t["hand_off"]["set"].update({"referal_route": "child_death"}),
     f"{FILE}: transitions[{REFER}].hand_off.set.referal_route: unknown field crg_referral.referal_route"),
    (lambda t: t["hand_off"]["carry"].update({"incident_date": "jar_referral.date_of_deaht"}),
     f"{FILE}: transitions[{REFER}].hand_off.carry.incident_date: unknown field jar_referral.date_of_deaht"),
    (lambda t: t["hand_off"]["carry"].update({"incident_date": "sin_decision.notified_on"}),
     f"{FILE}: transitions[{REFER}].hand_off.carry.incident_date: unknown form 'sin_decision'"),
    (lambda t: t["hand_off"].update(form="sin_decision"),
     f"{FILE}: transitions[{REFER}].hand_off.form: 'sin_decision' is not a form of the first state of "
     "serious_incident version 2"),
    (lambda t: t.update(roles=["la_head_of_safeguarding", "crg_member"]),
     f"{FILE}: transitions[{REFER}].roles: role 'crg_member' may fire the hand-off but may not fill "
     "'crg_referral' to open a serious_incident case"),
    (lambda t: t["hand_off"]["carry"].update({"incident_date": "date_of_death"}),
     "must name a field of one of this case's forms: form_id.field"),
    (lambda t: t["hand_off"]["carry"].update({"involved_agencies": "tasks.x.date"}),
     "carries form fields only, not tasks or context"),
    (lambda t: t["hand_off"]["set"].update({"incident_date": "2026-01-01"}),
     f"{FILE}: transitions[{REFER}].hand_off.set.incident_date: is also carried"),
    (lambda t: t["hand_off"]["set"].update({"involved_agencies": ["sussex-police"]}),
     "must be a constant: a string, number or true/false"),
    (lambda t: t["hand_off"].update(opens="now"), "unknown key 'opens'"),
    (lambda t: t.update(hand_off={"case_type": "serious_incident", "form": "crg_referral"}),
     "carries nothing: name at least one field in carry or set"),
])
def test_a_bad_hand_off_is_refused_with_its_path(change, expected):
    errors = errors_with(change)
    assert any(expected in e for e in errors), errors


def test_the_registry_refuses_to_load_a_bad_hand_off(tmp_path: Path):
    """The real entry point (the server's start and `caseflow check`) runs the cross-file check."""
    folder = tmp_path / "case_types"
    shutil.copytree(default_definitions_dir(), folder)
    raw = copy.deepcopy(RAW)
    raw["transitions"][REFER]["hand_off"]["case_type"] = "no_such_case_type"
    (folder / FILE).write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(DefinitionInvalid) as refused:
        CaseTypeRegistry.load_dir(folder, CATALOGUE)
    assert f"{FILE}: transitions[{REFER}].hand_off.case_type: unknown case type 'no_such_case_type'" in str(
        refused.value)
