"""A deployment's own definitions directory (CASEFLOW_DEFINITIONS_DIR) on a real ``caseflow serve``.

The worked example of docs/case-types.md is copied out of the page into a temp ``defs/``; the
server loads it beside the shipped definitions and serves it over HTTP: it lists it, opens and
walks a case, and the pull feed sends it (a device's old cursor gets the definitions again).
Then the refusals: a broken or colliding local definition never starts the server, and
``caseflow forms publish --definitions`` writes only the directory's own lock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from forms.registry import FormRegistry
from forms.registry import default_definitions_dir as forms_dir
from server.cli import main
from statemachines import CaseTypeRegistry
from statemachines.registry import default_definitions_dir as case_types_dir
from tests.server.test_case_type_guide import write_guide_files
from tests.support import DEMO_PASSWORD, ROOT, Client, LiveServer, assert_problem, free_port

PACKAGE_LOCK = forms_dir() / "published.lock"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


def serve_refused(defs: Path, data: Path) -> subprocess.CompletedProcess:
    """``caseflow serve`` with ``defs``; it must exit by itself (it never listens)."""
    env = {**os.environ, "CASEFLOW_DEMO_PASSWORD": DEMO_PASSWORD, "CASEFLOW_DEFINITIONS_DIR": str(defs)}
    return subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", str(free_port()),
                           "--data", str(data)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> Path:
    defs = write_guide_files(tmp_path_factory.mktemp("deployment") / "defs")
    assert run("forms", "publish", "--definitions", str(defs)).exit_code == 0
    return defs


@pytest.fixture(scope="module")
def old_cursor_and_server(defs, tmp_path_factory):
    """A device pulls from a server without the directory; then the server restarts with it."""
    data = tmp_path_factory.mktemp("srv") / "data"
    plain = LiveServer(data).start()
    try:
        pulled = Client(plain.url, "esx.business").get("/api/v1/sync/pull").json()
        assert not any(c["id"].startswith("local_learning") for c in pulled["changes"])
    finally:
        plain.stop()
    srv = LiveServer(data, env={"CASEFLOW_DEFINITIONS_DIR": str(defs)}).start()
    yield pulled["cursor"], srv
    srv.stop()


@pytest.fixture()
def server(old_cursor_and_server):
    return old_cursor_and_server[1]


def test_the_guide_case_type_and_form_are_listed_beside_the_shipped_ones(server):
    c = Client(server.url, "esx.business")
    types = {t["case_type"]: t for t in c.get("/api/v1/case-types").json()["case_types"]}
    assert {"local_learning_review", "serious_incident", "care_leaver_death_notification"} <= set(types)
    described = c.get("/api/v1/case-types/local_learning_review").json()
    assert {t["event"] for t in described["transitions"]} == {"accept_request", "decline_request", "share_learning"}
    forms = {f["form_id"]: f for f in c.get("/api/v1/forms").json()["forms"]}
    assert forms["local_learning_request"]["versions"][0]["published"] is True
    assert forms["action_plan"]["latest"] >= 2  # shipped forms stay
    doc = c.get("/api/v1/forms/local_learning_request/versions/1")
    assert doc.status_code == 200 and doc.headers["ETag"]
    assert doc.json()["schema"]["required"] == ["requested_on", "requesting_agency", "summary", "learning_question"]


def test_a_case_of_the_local_type_is_opened_and_walked_to_closed(server):
    fv = FormRegistry.load_deployment(Path(server.env["CASEFLOW_DEFINITIONS_DIR"])).get("local_learning_request")
    c = Client(server.url, "esx.business")
    created = c.post("/api/v1/cases", json={"case_type": "local_learning_review", "referral": {
        "form_id": "local_learning_request", "form_version": 1, "data": fv.examples["valid"][0]}})
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["state"] == "requested" and case["case_type"] == "local_learning_review"
    case_id = case["case_id"]
    dsl = Client(server.url, "esx.school-dsl")  # the requesting agency sees it but may not accept it
    assert_problem(dsl.post(f"/api/v1/cases/{case_id}/transitions",
                            json={"event": "accept_request", "expected_state": "requested"}), 403)
    fired = c.post(f"/api/v1/cases/{case_id}/transitions", json={"event": "accept_request",
                                                                  "expected_state": "requested"})
    assert fired.status_code == 200 and fired.json()["state"] == "in_review", fired.text
    refused = c.post(f"/api/v1/cases/{case_id}/transitions", json={"event": "share_learning",
                                                                    "expected_state": "in_review"})
    assert_problem(refused, 422)  # the learning briefing is required first
    briefing = FormRegistry.load_default().latest("learning_briefing")
    saved = c.post(f"/api/v1/cases/{case_id}/submissions", json={
        "form_id": "learning_briefing", "form_version": briefing.version, "data": briefing.examples["valid"][0],
        "status": "final"})
    assert saved.status_code in (200, 201), saved.text
    closed = c.post(f"/api/v1/cases/{case_id}/transitions", json={"event": "share_learning",
                                                                   "expected_state": "in_review"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed", closed.text


def test_the_pull_feed_sends_the_local_definitions_even_to_an_old_cursor(old_cursor_and_server):
    cursor, srv = old_cursor_and_server
    c = Client(srv.url, "esx.business")
    for page in (c.get("/api/v1/sync/pull").json(), c.get("/api/v1/sync/pull", params={"cursor": cursor}).json()):
        ids = {(ch["entity"], ch["id"]) for ch in page["changes"]}
        assert {("form", "local_learning_request@1"), ("case_type", "local_learning_review@1"),
                ("case_type", "serious_incident@1")} <= ids
        form = next(ch for ch in page["changes"] if ch["id"] == "local_learning_request@1")
        assert form["data"]["title"] == "Local learning request"
    after = c.get("/api/v1/sync/pull", params={"cursor": page["cursor"]}).json()
    assert not any(ch["entity"] in ("form", "case_type") for ch in after["changes"])  # sent once per hash


def test_a_definition_edited_in_place_is_sent_again(defs, tmp_path):
    """The feed's definitions hash covers content, not only ids and versions: a title corrected in
    place (no new version) reaches devices that already hold the old text."""
    edited = tmp_path / "defs"
    shutil.copytree(defs, edited)
    yaml_file = edited / "case_types" / "local_learning_review.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("title: Local learning review",
                                                       "title: Local learning review (corrected)", 1))
    data = tmp_path / "data"
    first = LiveServer(data, env={"CASEFLOW_DEFINITIONS_DIR": str(defs)}).start()
    try:
        cursor = Client(first.url, "esx.business").get("/api/v1/sync/pull", params={"limit": 500}).json()["cursor"]
    finally:
        first.stop()
    second = LiveServer(data, env={"CASEFLOW_DEFINITIONS_DIR": str(edited)}).start()
    try:
        page = Client(second.url, "esx.business").get("/api/v1/sync/pull", params={"cursor": cursor}).json()
    finally:
        second.stop()
    (ct,) = [c for c in page["changes"] if c["id"] == "local_learning_review@1"]
    assert ct["data"]["title"] == "Local learning review (corrected)"


# -- refusals ---------------------------------------------------------------------------------------
def test_a_broken_local_case_type_stops_serve_naming_the_file(defs, tmp_path):
    bad = tmp_path / "defs"
    shutil.copytree(defs, bad)
    target = bad / "case_types" / "local_learning_review.yaml"
    target.write_text(target.read_text().replace("to: in_review", "to: in_reveiw"))
    done = serve_refused(bad, tmp_path / "data")
    assert done.returncode != 0
    assert f"{target}: transitions[0].to: unknown state 'in_reveiw'" in done.stderr, done.stderr
    assert "the server was not started" in done.stderr and "listening" not in done.stderr
    checked = run("check", "--definitions", str(bad))  # caseflow check says the same
    assert checked.exit_code == 1 and f"{target}: transitions[0].to" in checked.output


def test_a_broken_local_form_stops_serve_naming_the_file(defs, tmp_path):
    bad = tmp_path / "defs"
    shutil.copytree(defs, bad)
    target = bad / "forms" / "local_learning_request.v1.json"
    raw = json.loads(target.read_text())
    raw["schema"]["properties"]["summary"]["type"] = "text"  # not a JSON Schema type
    target.write_text(json.dumps(raw))
    done = serve_refused(bad, tmp_path / "data")
    assert done.returncode != 0 and f"definitions: {target}: /schema" in done.stderr, done.stderr
    assert "the server was not started" in done.stderr


def test_a_local_form_version_that_collides_with_a_shipped_one_is_refused(defs, tmp_path):
    bad = tmp_path / "defs"
    shutil.copytree(defs, bad)
    shipped = forms_dir() / "learning_briefing.v1.json"
    raw = json.loads(shipped.read_text())
    raw["title"] = "Our own learning briefing"
    (bad / "forms" / "learning_briefing.v1.json").write_text(json.dumps(raw))
    done = serve_refused(bad, tmp_path / "data")
    assert done.returncode != 0
    assert (f"{bad}/forms/learning_briefing.v1.json: /: learning_briefing@1 is also shipped, with different "
            f"content, in {shipped}") in done.stderr, done.stderr
    checked = run("forms", "check", "--definitions", str(bad), "--allow-unpublished")
    assert checked.exit_code == 1 and f"in {shipped}" in checked.output
    # a verbatim copy is not a collision: the shipped file is the one loaded
    shutil.copy(shipped, bad / "forms" / "learning_briefing.v1.json")
    assert FormRegistry.load_deployment(bad).get("learning_briefing", 1).filename == "learning_briefing.v1.json"


def test_a_local_case_type_version_that_collides_with_a_shipped_one_is_refused(defs, tmp_path):
    bad = tmp_path / "defs"
    shutil.copytree(defs, bad)
    shipped = case_types_dir() / "care_leaver_death_notification.yaml"
    local = bad / "case_types" / "care_leaver_death_notification.yaml"
    local.write_text(shipped.read_text().replace("\ntitle:", "\ntitle: Ours -", 1))
    with pytest.raises(ValueError) as refused:
        CaseTypeRegistry.load_deployment(bad)
    assert (f"{local}: version: care_leaver_death_notification version 1 is also defined with different content "
            f"in {shipped}") in str(refused.value)
    done = serve_refused(bad, tmp_path / "data")
    assert done.returncode != 0 and f"{local}: version:" in done.stderr, done.stderr
    local.write_text(shipped.read_text())  # the same definition: allowed, the shipped one is loaded
    assert CaseTypeRegistry.load_deployment(bad).versions("care_leaver_death_notification") == [1, 2, 3]


def test_a_definitions_dir_without_either_folder_stops_serve(tmp_path):
    empty = tmp_path / "defs"
    (empty / "definitions").mkdir(parents=True)  # e.g. one level too high or too low
    done = serve_refused(empty, tmp_path / "data")
    assert done.returncode != 0 and f"{empty}: has neither a forms/ nor a case_types/ folder" in done.stderr


def test_publish_and_new_version_write_only_into_the_definitions_dir(tmp_path):
    package_lock = PACKAGE_LOCK.read_bytes()
    package_files = sorted(p.name for p in forms_dir().iterdir())
    defs = write_guide_files(tmp_path / "defs")
    published = run("forms", "publish", "--definitions", str(defs))
    assert published.exit_code == 0 and published.output.strip() == "published local_learning_request.v1.json"
    locked = json.loads((defs / "forms" / "published.lock").read_text())["files"]
    assert list(locked) == ["local_learning_request.v1.json"]  # only the directory's own forms
    # a shipped form carried forward in the directory: the next version number, written there
    latest = FormRegistry.load_default().latest("learning_briefing").version
    made = run("forms", "new-version", "--definitions", str(defs), "learning_briefing")
    assert made.exit_code == 0, made.output
    assert (defs / "forms" / f"learning_briefing.v{latest + 1}.json").exists()
    checked = run("forms", "check", "--definitions", str(defs), "--allow-unpublished")
    assert checked.exit_code == 0, checked.output
    assert PACKAGE_LOCK.read_bytes() == package_lock
    assert sorted(p.name for p in forms_dir().iterdir()) == package_files
