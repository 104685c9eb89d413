"""Issue #10 items 1 and 3 over real HTTP (the app in this process on a loopback port, demo users,
the real store): one costly request cannot hold up other writers, error lists are capped, and a
fault inside a mutation handler is that mutation's rejection, never a 500 or a stuck device.
Each test failed before its fix (docs/security.md, "Bounded cost, failures and replays")."""

from __future__ import annotations

import copy
import threading
import uuid

import pytest

from tests.server.test_agency_returns_http import FORMS, RETURNS, TODAY, _open_case, _save, _to_rapid_review
from tests.support import Client, InProcessApp, assert_problem

REFERRAL = FORMS.latest("crg_referral")


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # one app for the module: each test opens its own case
    a = InProcessApp(tmp_path_factory.mktemp("hardening") / "data", TODAY)
    yield a
    a.close()


def _referral(**changes) -> dict:
    data = copy.deepcopy(REFERRAL.examples["valid"][0])
    data.update(changes)
    return {"case_type": "serious_incident",
            "referral": {"form_id": "crg_referral", "form_version": REFERRAL.version, "data": data}}


def test_another_writer_does_not_wait_behind_a_costly_validation(app, monkeypatch):
    """The referral of the finding (3,000 distinct objects in involved_agencies) is held inside its
    validation until another user's write has been answered: that write never waits for it, because
    forms are validated before the write lock (ADR 0012). Before, validation ran under the lock and
    the second write waited (here: until its 60 s timeout)."""
    registry = app.services.write_path.forms
    real_validate = registry.validate
    inside, release = threading.Event(), threading.Event()

    def held(form_id, version, data, **kw):
        if isinstance(data, dict) and len(data.get("involved_agencies", ())) == 3000:
            inside.set()
            release.wait(60)
        return real_validate(form_id, version, data, **kw)

    monkeypatch.setattr(registry, "validate", held)
    costly = _referral(involved_agencies=[{"agency": f"a{i}"} for i in range(3000)])
    slow_client, other = Client(app.url, "esx.business"), Client(app.url, "esx.school-dsl")
    answers: dict[str, object] = {}
    slow = threading.Thread(target=lambda: answers.update(slow=slow_client.post("/api/v1/cases", json=costly)))
    slow.start()
    try:
        assert inside.wait(60), "the costly request never reached validation"
        r = other.post("/api/v1/cases", json=_referral(), timeout=60)
        assert r.status_code == 201, r.text
        assert slow.is_alive() and "slow" not in answers  # answered while the costly one was still held
    finally:
        release.set()
        slow.join(60)
    body = assert_problem(answers["slow"], 422, "invalid-form-data")
    assert body["errors"] == [{"path": "/payload/referral/data/involved_agencies",
                               "message": "Enter no more than 1000 entries"}]


def test_a_huge_array_gets_one_short_answer_and_long_error_lists_are_capped(app):
    """A 60,000-item array got a 5 MB answer listing 60,001 errors; now the array's limit is the
    answer. A list of 1,000 wrong items lists 100 errors and counts the rest."""
    business = app.client("esx.business")
    r = business.post("/api/v1/cases", json=_referral(involved_agencies=list(range(60_000))))
    body = assert_problem(r, 422, "invalid-form-data")
    assert len(r.content) < 2000 and len(body["errors"]) == 1
    r = business.post("/api/v1/cases", json=_referral(involved_agencies=[{"n": i} for i in range(1000)]))
    body = assert_problem(r, 422, "invalid-form-data")
    # 100 listed; counting stops after 300 of jsonschema's errors (ADR 0032): "at least 301"
    assert len(body["errors"]) == 100 and body["errors_omitted"] == 200 and body["errors_counted"] is False
    assert "at least 301 problem(s); the first 100 are listed" in body["detail"]


def _chronology_conflict(app: InProcessApp, case_id: str) -> tuple[dict, str]:
    """The schools' final return, then two of the schools' devices edit chronology row s1 from it:
    one conflict recorded on that row. Returns (the first save, the conflict id)."""
    first = _save(app.client("esx.school-dsl"), case_id, "rapid_review_agency_return", RETURNS["esx-schools"])
    conflicts = []
    for text in ("Seen at home, laptop.", "Seen at home, phone."):
        data = copy.deepcopy(RETURNS["esx-schools"])
        data["chronology"][0]["summary"] = text
        r = Client(app.url, "esx.school-dsl").post(f"/api/v1/cases/{case_id}/submissions", json={
            "form_id": "rapid_review_agency_return", "form_version": FORMS.latest("rapid_review_agency_return").version,
            "data": data, "status": "final", "base_version": first["version"]})
        assert r.status_code == 200, r.text
        conflicts += r.json().get("conflicts", [])
    assert len(conflicts) == 1, conflicts
    return first, conflicts[0]


def _remove_row_s1(app: InProcessApp, case_id: str) -> None:
    data = copy.deepcopy(RETURNS["esx-schools"])
    data["chronology"] = data["chronology"][1:]
    _save(app.client("esx.school-dsl"), case_id, "rapid_review_agency_return", data)


def test_a_conflict_on_a_removed_row_is_refused_by_name_over_rest_and_sync(app):
    """The finding: resolving, with incoming or value, a conflict on a chronology row that a later
    final save removed gave a 500 (StopIteration); through sync the whole batch rolled back and the
    device's next seq waited as pending for ever."""
    case_id = _open_case(app)
    _to_rapid_review(app, case_id)
    _, conflict_id = _chronology_conflict(app, case_id)
    _remove_row_s1(app, case_id)
    dsl = app.client("esx.school-dsl")
    for choice in ({"choose": "incoming"}, {"choose": "value", "value": {"row_id": "s1"}}):
        r = dsl.post(f"/api/v1/cases/{case_id}/conflicts", json={"conflict_id": conflict_id, **choice})
        assert_problem(r, 409, "conflict-target-gone")
    device = Client(app.url, "esx.school-dsl")
    batch = [{"mutation_id": str(uuid.uuid4()), "seq": 1, "kind": "resolve_conflict", "case_id": case_id,
              "payload": {"conflict_id": conflict_id, "choose": "incoming"}},
             {"mutation_id": str(uuid.uuid4()), "seq": 2, "kind": "resolve_conflict", "case_id": case_id,
              "payload": {"conflict_id": conflict_id, "choose": "kept"}}]
    r = device.post("/api/v1/sync/push", json={"device_id": device.device_id, "mutations": batch})
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first["status"] == "rejected" and first["problem"]["type"].endswith("/conflict-target-gone")
    assert second["status"] == "applied", second


def test_a_fault_in_a_handler_rejects_that_mutation_only_and_the_device_goes_on(app, monkeypatch, caplog):
    """Any exception inside a handler (here one injected into the handler of `invite_partnership`,
    after it has written) is that mutation's `rejected` result naming the fault; its own writes
    are undone; the batch's other mutations and the device's later seqs apply (ADR 0013)."""
    case_id = _open_case(app)

    def faulty(ctx, case_id, payload, base_version):
        ctx.audit("case.invite", case_id, partnership="west-sussex")  # a write, to be undone
        raise KeyError("a fault")

    monkeypatch.setitem(app.services.write_path.handlers, "invite_partnership", faulty)
    business = Client(app.url, "esx.business")
    r = business.post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex"})
    assert_problem(r, 500, "mutation-failed")
    batch = [{"mutation_id": str(uuid.uuid4()), "seq": 1, "kind": "invite_partnership", "case_id": case_id,
              "payload": {"partnership": "west-sussex"}},
             {"mutation_id": str(uuid.uuid4()), "seq": 2, "kind": "assign_reviewer", "case_id": case_id,
              "payload": {"user_id": _user_id(app, "esx.reviewer")}}]
    r = business.post("/api/v1/sync/push", json={"device_id": business.device_id, "mutations": batch})
    assert r.status_code == 200, r.text
    failed, applied = r.json()["results"]
    assert failed["status"] == "rejected" and failed["problem"]["type"].endswith("/mutation-failed")
    assert "KeyError" in failed["problem"]["detail"] and applied["status"] == "applied"
    history = business.get(f"/api/v1/cases/{case_id}/history").json()["entries"]
    assert not [e for e in history if e["action"] == "case.invite"]  # the handler's own write was undone
    later = [{"mutation_id": str(uuid.uuid4()), "seq": 3, "kind": "assign_reviewer", "case_id": case_id,
              "payload": {"user_id": _user_id(app, "esx.reviewer"), "assigned": False}}]
    r = business.post("/api/v1/sync/push", json={"device_id": business.device_id, "mutations": later})
    assert r.json()["results"][0]["status"] == "applied"


def _user_id(app: InProcessApp, username: str) -> str:
    return app.services.accounts.user_by_username(username)["user_id"]


def test_a_replayed_transition_answers_the_first_result_as_recorded_and_is_audited(app):
    """Replaying an Idempotency-Key of a transition answered the case as it is now (fields edited
    since included) and audited nothing; now it answers the recorded view, audited as a read."""
    business = Client(app.url, "esx.business")
    r = business.post("/api/v1/cases", json=_referral())
    case_id = r.json()["case_id"]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    step = {"event": "put_to_crg", "expected_state": "referred"}
    url = f"{app.url}/api/v1/cases/{case_id}/transitions"
    first = business.http.post(url, json=step, headers={**business.headers(), **key})
    assert first.status_code == 200, first.text
    r = business.post(f"/api/v1/cases/{case_id}/assignments", json={"user_id": _user_id(app, "esx.reviewer")})
    assert r.status_code == 200, r.text
    replay = business.http.post(url, json=step, headers={**business.headers(), **key})
    assert replay.status_code == 200, replay.text
    assert replay.json() == first.json() and replay.json()["assigned_reviewers"] == []
    entries = business.get(f"/api/v1/cases/{case_id}/history").json()["entries"]
    reads = [e for e in entries if e["action"] == "case.read"]
    assert [e["what"].get("read") for e in reads] == [None, None, "replay"]  # create, transition, replay


def test_history_reads_and_refused_attempts_are_audited_with_ids_only(app):
    business, outsider = Client(app.url, "esx.business"), Client(app.url, "wsx.business")
    case_id = business.post("/api/v1/cases", json=_referral()).json()["case_id"]
    assert_problem(outsider.get(f"/api/v1/cases/{case_id}"), 404, "case-not-found")
    assert_problem(outsider.post(f"/api/v1/cases/{case_id}/transitions",
                                 json={"event": "put_to_crg", "expected_state": "referred"}), 404)
    assert_problem(outsider.get("/api/v1/cases/not-a-case-id<script>/history"), 404)
    business.get(f"/api/v1/cases/{case_id}/history")
    entries = business.get(f"/api/v1/cases/{case_id}/history").json()["entries"]
    refused = [e for e in entries if e["action"] == "access.refused"]
    assert [(e["by"], e["what"]["attempt"], e["what"]["status"]) for e in refused] == [
        (outsider.user["user_id"], "read", 404), (outsider.user["user_id"], "transition", 404)]
    assert [e for e in entries if e["action"] == "case.read" and e["what"].get("read") == "history"]
    log = [a.entry for a in app.store.audit_log() if a.entry.get("action") == "access.refused"]
    assert any(e["case_id"] is None for e in log)  # a malformed id is not written down
    assert "script" not in str(log) and "Child A" not in str(log)


def _near_valid_return(agency: str) -> dict:
    """Issue #10's costliest agency return: 1,000 chronology rows, each well-formed but for one rule
    (``other`` needs ``contact_type_other``), so each row is an error jsonschema walks in full."""
    data = copy.deepcopy(RETURNS[agency])
    data["chronology"] = [{"row_id": f"r{i}", "date": "2024-01-01", "contact_type": "other",
                           "summary": "Seen at home.", "child_seen": True} for i in range(1000)]
    return data


def test_a_form_the_case_refuses_is_refused_before_it_is_validated(app, monkeypatch):
    """A costly agency return is answered 409 (the case is not at the rapid review) or 403 (not the
    sender's agency) without validating it (ADR 0032): before, the write path validated it in full
    first and only then learnt the case refused it. Sent where the form is open, it is validated
    once, before the lock, and refused with its errors listed and counted; over sync too."""
    registry = app.services.write_path.forms
    real_validate, validated = registry.validate, []

    def counted(form_id, version, data, **kw):
        if isinstance(data, dict) and len(data.get("chronology", ())) >= 150:
            validated.append(form_id)
        return real_validate(form_id, version, data, **kw)

    monkeypatch.setattr(registry, "validate", counted)
    version = FORMS.latest("rapid_review_agency_return").version
    referred, open_case = _open_case(app), _open_case(app)
    _to_rapid_review(app, open_case)
    school = app.client("esx.school-dsl")

    def send(case_id: str, data: dict):
        return school.post(f"/api/v1/cases/{case_id}/submissions", json={
            "form_id": "rapid_review_agency_return", "form_version": version, "status": "final", "data": data})

    assert_problem(send(referred, _near_valid_return("esx-schools")), 409, "form-locked")
    assert_problem(send(open_case, _near_valid_return("uh-sussex")), 403, "not-your-agency")
    assert validated == []
    body = assert_problem(send(open_case, _near_valid_return("esx-schools")), 422, "invalid-form-data")
    assert validated == ["rapid_review_agency_return"]  # once: the handler used the early answer
    assert len(body["errors"]) == 100 and body["errors_omitted"] == 200 and body["errors_counted"] is False
    assert body["errors"][0] == {"path": "/payload/data/chronology/0/contact_type_other",
                                 "message": "This field is required"}

    # over sync: the refused one is not validated; the request's budget (300 of jsonschema's errors)
    # is shared by the others: 150 + 150 errors listed and counted, then only the verdict
    device = Client(app.url, "esx.school-dsl")
    short = {**_near_valid_return("esx-schools")}
    short["chronology"] = short["chronology"][:150]
    batch = [{"mutation_id": str(uuid.uuid4()), "seq": seq, "kind": "save_submission", "case_id": case_id,
              "payload": {"form_id": "rapid_review_agency_return", "form_version": version, "status": "final",
                          "data": _near_valid_return("esx-schools") if case_id == referred else copy.deepcopy(short)}}
             for seq, case_id in ((1, referred), (2, open_case), (3, open_case), (4, open_case))]
    validated.clear()
    r = device.post("/api/v1/sync/push", json={"device_id": device.device_id, "mutations": batch})
    assert r.status_code == 200, r.text
    refused, *invalid = r.json()["results"]
    assert refused["status"] == "rejected" and refused["problem"]["type"].endswith("/form-locked")
    assert validated == ["rapid_review_agency_return"] * 3
    assert all(m["status"] == "rejected" for m in invalid)
    problems = [m["problem"] for m in invalid]
    assert all(p["type"].endswith("/invalid-form-data") for p in problems)
    assert [(len(p["errors"]), p.get("errors_omitted"), p.get("errors_counted", True)) for p in problems] == [
        (100, 50, True), (100, 50, True), (0, 0, False)]
    assert "none are listed" in problems[2]["detail"]
