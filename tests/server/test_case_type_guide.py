"""docs/case-types.md's worked example, followed literally: the files are copied out of the page
verbatim into a deployment's definitions directory (``defs/forms``, ``defs/case_types``), and every
step of the guide is run on it (forms check, publish, check again; caseflow check, describe,
diagram; the registries the server loads at start; a walk through the case type with the example
data). The shipped definitions are never touched. If the page and the code drift apart, this fails.
The same example on a real server over HTTP is tests/server/test_definitions_dir.py."""

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
from statemachines.values import Actor
from tests.support import ROOT

GUIDE = ROOT / "docs" / "case-types.md"
BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<body>.*?)\n```", re.S)
SHIPPED_LOCK = forms_dir() / "published.lock"


def guide_files() -> dict[str, str]:
    return {m["path"]: m["body"] + "\n" for m in BLOCK.finditer(GUIDE.read_text())}


def write_guide_files(defs: Path) -> Path:
    """The page's two files, where it says: ``defs/forms/...`` and ``defs/case_types/...``."""
    files = guide_files()
    assert set(files) == {"forms/local_learning_request.v1.json", "case_types/local_learning_review.yaml"}
    for rel, body in files.items():
        (defs / rel).parent.mkdir(parents=True, exist_ok=True)
        (defs / rel).write_text(body)
    return defs


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> Path:
    return write_guide_files(tmp_path_factory.mktemp("guide") / "defs")


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_step_1_the_form_checks_publishes_and_loads(defs):
    shipped_lock = SHIPPED_LOCK.read_bytes()
    unpublished = run("forms", "check", "--definitions", str(defs))
    assert unpublished.exit_code == 1 and f"{defs}/forms/local_learning_request.v1.json" in unpublished.output
    assert run("forms", "check", "--definitions", str(defs), "--allow-unpublished").exit_code == 0
    published = run("forms", "publish", "--definitions", str(defs), "local_learning_request")
    assert published.output.strip() == "published local_learning_request.v1.json", published.output
    checked = run("forms", "check", "--definitions", str(defs))
    assert checked.exit_code == 0 and "forms OK" in checked.output, checked.output
    assert "local_learning_request.v1.json" in json.loads((defs / "forms" / "published.lock").read_text())["files"]
    assert SHIPPED_LOCK.read_bytes() == shipped_lock  # the package is never written
    registry = FormRegistry.load_deployment(defs)
    fv = registry.get("local_learning_request")
    assert fv.version == 1 and fv.published
    assert registry.get("learning_briefing").published  # shipped forms stay, with their own lock
    example = fv.examples["valid"][0]
    assert registry.validate("local_learning_request", 1, example, final=True, today=dt.date(2026, 1, 5)) == []
    listed = json.loads(run("forms", "list", "--definitions", str(defs)).output)
    assert {"local_learning_request", "crg_referral"} <= {f["form_id"] for f in listed}


def test_step_3_caseflow_check_describe_and_diagram(defs):
    checked = run("check", "--definitions", str(defs))
    shipped = len(list((ROOT / "statemachines" / "definitions").glob("*.yaml")))
    assert checked.exit_code == 0 and f"case types OK ({shipped + 1} file(s)" in checked.output, checked.output
    described = json.loads(run("check", "describe", "local_learning_review", "--definitions", str(defs)).output)
    assert {t["event"] for t in described["transitions"]} == {"accept_request", "decline_request", "share_learning"}
    diagram = run("check", "diagram", "local_learning_review", "--definitions", str(defs))
    assert diagram.exit_code == 0 and "stateDiagram" in diagram.output and "in_review" in diagram.output


def test_a_typo_in_the_example_is_caught_against_the_new_form(defs, tmp_path):
    """What `caseflow check` does once the form is in the catalogue: guard fields are real fields,
    and the error names the deployment's file by its full path (as the page's example shows)."""
    registry = FormRegistry.load_deployment(defs)
    catalogue = {fid: set(registry.field_paths(fid)) for fid in registry.form_ids()}
    CaseTypeRegistry.load_deployment(defs, catalogue)  # the guide's example names only real fields
    bad = tmp_path / "defs"
    shutil.copytree(defs, bad)
    text = (bad / "case_types" / "local_learning_review.yaml").read_text()
    (bad / "case_types" / "local_learning_review.yaml").write_text(
        text.replace("request.learning_question", "request.learning_questoin"))
    with pytest.raises(ValueError, match="learning_questoin"):
        CaseTypeRegistry.load_deployment(bad, catalogue)
    checked = run("check", "--definitions", str(bad))
    assert checked.exit_code == 1
    assert (f"{bad}/case_types/local_learning_review.yaml: transitions[0].guard: unknown field "
            f"local_learning_request.learning_questoin") in checked.output, checked.output


def test_step_4_and_5_the_server_registry_walks_it_and_pins_versions(defs, tmp_path):
    forms = FormRegistry.load_deployment(defs)
    registry = CaseTypeRegistry.load_deployment(defs)  # what the server loads at start
    ct = registry.get("local_learning_review")
    assert ct.version == 1 and ct.initial_state == "requested"
    assert "local_learning_review" in {c.case_type for c in registry.case_types()}
    assert registry.get("serious_incident").version >= 1  # shipped types stay
    request = forms.get("local_learning_request").examples["valid"][0]
    briefing = forms.get("learning_briefing").examples["valid"][0]
    business, dsl = Actor(frozenset({"business_team"})), Actor(frozenset({"agency_safeguarding_lead"}))
    context = {"returns": {"all_received": True}}
    assert not ct.evaluate("requested", "accept_request", dsl, {"local_learning_request": request}, context).allowed
    assert not ct.evaluate("requested", "accept_request", business, {}, context).allowed  # the form is required
    state = ct.fire("requested", "accept_request", actor=business, forms={"local_learning_request": request},
                    context=context)
    assert state == "in_review"
    forms_now = {"local_learning_request": request, "learning_briefing": briefing}
    assert ct.fire(state, "share_learning", actor=business, forms=forms_now, context=context) == "closed"
    deadlines = {d.name: d for d in ct.deadlines(forms_now, [("requested", dt.date(2025, 5, 2))], dt.date(2025, 5, 6))}
    assert "learning_review_complete" in deadlines
    # a version 2 beside version 1: both load, cases opened under 1 keep it, new cases take 2
    v2 = tmp_path / "defs"
    shutil.copytree(defs, v2)
    text = (v2 / "case_types" / "local_learning_review.yaml").read_text().replace("version: 1", "version: 2", 1)
    (v2 / "case_types" / "local_learning_review.v2.yaml").write_text(text)
    both = CaseTypeRegistry.load_deployment(v2)
    assert both.get("local_learning_review").version == 2
    assert both.get("local_learning_review", 1).version == 1
