"""docs/case-types.md's worked example, followed literally: the files are copied out of the page
verbatim into copies of the definitions directories, and every step of the guide is run on them
(forms check, publish, check again; caseflow check, describe, diagram; the registries the server
loads at start; a walk through the case type with the example data). If the page and the code
drift apart, this fails."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from forms.registry import FormRegistry
from forms.registry import default_definitions_dir as forms_dir
from server.cli import main
from statemachines import CaseTypeRegistry
from statemachines.engine import Actor
from statemachines.registry import default_definitions_dir as case_types_dir
from tests.support import ROOT

GUIDE = ROOT / "docs" / "case-types.md"
BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<body>.*?)\n```", re.S)


def guide_files() -> dict[str, str]:
    return {m["path"]: m["body"] + "\n" for m in BLOCK.finditer(GUIDE.read_text())}


@pytest.fixture(scope="module")
def dirs(tmp_path_factory) -> dict[str, Path]:
    """Copies of the shipped definitions with the guide's two files added, as step 1 and 2 say."""
    root = tmp_path_factory.mktemp("guide")
    out = {"forms": root / "forms", "statemachines": root / "statemachines"}
    shutil.copytree(forms_dir(), out["forms"])
    shutil.copytree(case_types_dir(), out["statemachines"])
    files = guide_files()
    assert set(files) == {"forms/definitions/practice_learning_request.v1.json",
                          "statemachines/definitions/practice_learning_review.yaml"}
    for rel, body in files.items():
        package, _, name = rel.split("/")
        (out[package] / name).write_text(body)
    return out


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_step_1_the_form_checks_publishes_and_loads(dirs):
    forms = str(dirs["forms"])
    unpublished = run("forms", "check", "--dir", forms)
    assert unpublished.exit_code == 1 and "practice_learning_request.v1.json" in unpublished.output
    assert run("forms", "check", "--dir", forms, "--allow-unpublished").exit_code == 0
    published = run("forms", "publish", "--dir", forms, "practice_learning_request")
    assert published.output.strip() == "published practice_learning_request.v1.json", published.output
    checked = run("forms", "check", "--dir", forms)
    assert checked.exit_code == 0 and "forms OK" in checked.output, checked.output
    registry = FormRegistry.load(dirs["forms"])
    fv = registry.get("practice_learning_request")
    assert fv.version == 1 and fv.published
    example = fv.examples["valid"][0]
    assert registry.validate("practice_learning_request", 1, example, final=True, today=dt.date(2026, 1, 5)) == []
    assert "practice_learning_request" in json.dumps(json.loads(run("forms", "list", "--dir", forms).output))


def test_step_3_caseflow_check_describe_and_diagram(dirs):
    path = str(dirs["statemachines"] / "practice_learning_review.yaml")
    checked = run("check", path)
    assert checked.exit_code == 0 and "case types OK (1 file(s)" in checked.output, checked.output
    assert run("check", str(dirs["statemachines"])).exit_code == 0
    described = json.loads(run("check", "describe", "practice_learning_review", "--dir",
                               str(dirs["statemachines"])).output)
    assert {t["event"] for t in described["transitions"]} == {"accept_request", "decline_request", "share_learning"}
    diagram = run("check", "diagram", "practice_learning_review", "--dir", str(dirs["statemachines"]))
    assert diagram.exit_code == 0 and "stateDiagram" in diagram.output and "in_review" in diagram.output


def test_a_typo_in_the_example_is_caught_against_the_new_form(dirs, tmp_path):
    """What `caseflow check` does once the form is in the catalogue: guard fields are real fields."""
    registry = FormRegistry.load(dirs["forms"], verify_lock=False)
    catalogue = {fid: set(registry.field_paths(fid)) for fid in registry.form_ids()}
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(dirs["statemachines"] / "practice_learning_review.yaml", good)
    CaseTypeRegistry.load_dir(good, catalogue)  # the guide's example names only real fields
    bad = tmp_path / "bad"
    bad.mkdir()
    text = (good / "practice_learning_review.yaml").read_text()
    (bad / "practice_learning_review.yaml").write_text(text.replace("request.learning_question",
                                                                    "request.learning_questoin"))
    with pytest.raises(ValueError, match="learning_questoin"):
        CaseTypeRegistry.load_dir(bad, catalogue)


def test_step_4_and_5_the_server_registry_walks_it_and_pins_versions(dirs, tmp_path):
    forms = FormRegistry.load(dirs["forms"], verify_lock=False)
    registry = CaseTypeRegistry.load_dir(dirs["statemachines"])  # what load_default() does at start
    ct = registry.get("practice_learning_review")
    assert ct.version == 1 and ct.initial_state == "requested"
    assert "practice_learning_review" in {c.case_type for c in registry.case_types()}
    assert registry.get("serious_incident").version >= 1  # shipped types stay
    request = forms.get("practice_learning_request").examples["valid"][0]
    briefing = forms.get("learning_briefing").examples["valid"][0]
    business, dsl = Actor(frozenset({"business_team"})), Actor(frozenset({"agency_safeguarding_lead"}))
    context = {"returns": {"all_received": True}}
    assert not ct.evaluate("requested", "accept_request", dsl, {"practice_learning_request": request}, context).allowed
    assert not ct.evaluate("requested", "accept_request", business, {}, context).allowed  # the form is required
    state = ct.fire("requested", "accept_request", actor=business, forms={"practice_learning_request": request},
                    context=context)
    assert state == "in_review"
    forms_now = {"practice_learning_request": request, "learning_briefing": briefing}
    assert ct.fire(state, "share_learning", actor=business, forms=forms_now, context=context) == "closed"
    deadlines = {d.name: d for d in ct.deadlines(forms_now, [("requested", dt.date(2025, 5, 2))], dt.date(2025, 5, 6))}
    assert "learning_review_complete" in deadlines
    # a version 2 beside version 1: both load, cases opened under 1 keep it, new cases take 2
    v2 = tmp_path / "v2"
    shutil.copytree(dirs["statemachines"], v2)
    text = (v2 / "practice_learning_review.yaml").read_text().replace("version: 1", "version: 2", 1)
    (v2 / "practice_learning_review.v2.yaml").write_text(text)
    both = CaseTypeRegistry.load_dir(v2)
    assert both.get("practice_learning_review").version == 2
    assert both.get("practice_learning_review", 1).version == 1
