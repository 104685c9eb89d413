"""Red-team checks over real HTTP (the app in this process on a loopback port, demo users, the real
store): places where a user could learn of what they may not see. Each test here failed before its
fix; the policy is the one stated at the top of ``test_access_matrix.py``."""

from __future__ import annotations

import copy

import pytest

from tests.server.test_agency_returns_http import (
    FORMS,
    RETURNS,
    TODAY,
    _open_case,
    _save,
    _to_rapid_review,
)
from tests.support import Client, InProcessApp


@pytest.fixture
def app(tmp_path):
    a = InProcessApp(tmp_path / "data", TODAY)
    yield a
    a.close()


def _of_case(changes: list[dict], case_id: str) -> list[dict]:
    return [c for c in changes if c["entity"] != "alert" and (
        c["id"] == case_id or c["id"].startswith(case_id + ".") or c.get("data", {}).get("case_id") == case_id)]


def _schools_conflict(app: InProcessApp, case_id: str) -> tuple[str, str]:
    """The schools' final return, then two of the schools' devices amend one field from it: one
    conflict on an agency return. Returns (submission id, conflict id)."""
    first = _save(app.client("esx.school-dsl"), case_id, "rapid_review_agency_return", RETURNS["esx-schools"])
    second_device = Client(app.url, "esx.school-dsl")
    conflicts = []
    for client, text in ((app.client("esx.school-dsl"), "Amended on the laptop."), (second_device, "On the phone.")):
        data = copy.deepcopy(RETURNS["esx-schools"])
        data["involvement_summary"] = text
        r = client.post(f"/api/v1/cases/{case_id}/submissions", json={
            "form_id": "rapid_review_agency_return", "form_version": FORMS.latest("rapid_review_agency_return").version,
            "data": data, "status": "final", "base_version": first["version"]})
        assert r.status_code in (200, 409), r.text
        conflicts += r.json().get("conflicts", [])
    assert len(conflicts) == 1, conflicts
    return first["submission_id"], conflicts[0]


def test_an_uninvited_partnership_gets_no_tombstone_naming_an_agency_return(app):
    """Agency returns are never an invited partnership's to see, so losing the invitation must not
    send their ids (which name the agencies that returned) or their conflicts' ids either."""
    business, wsx = app.client("esx.business"), app.client("wsx.business")
    case_id = _open_case(app)
    _to_rapid_review(app, case_id)
    sub_id, conflict_id = _schools_conflict(app, case_id)
    r = business.post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex"})
    assert r.status_code == 200, r.text
    seen, cursor = wsx.pull_all()
    assert ("case", case_id) in {(c["entity"], c["id"]) for c in seen}
    assert sub_id not in str(seen) and conflict_id not in str(seen)
    r = business.post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex", "invited": False})
    assert r.status_code == 200, r.text
    later, _ = wsx.pull_all(cursor)
    gone = {(c["entity"], c["id"]) for c in later if c.get("deleted")}
    assert ("case", case_id) in gone
    assert sub_id not in str(later) and conflict_id not in str(later)
    assert "esx-schools" not in str(later)


def test_resolving_an_agency_returns_conflict_is_hidden_from_other_agencies_history(app):
    """The audit entry of a resolved conflict on an agency's return carries that agency, so the
    history endpoint hides it from other agencies and invited partnerships as it hides the save."""
    case_id = _open_case(app)
    _to_rapid_review(app, case_id)
    sub_id, conflict_id = _schools_conflict(app, case_id)
    r = app.client("esx.school-dsl").post(f"/api/v1/cases/{case_id}/conflicts",
                                          json={"conflict_id": conflict_id, "choose": "incoming"})
    assert r.status_code == 200, r.text
    r = app.client("esx.business").post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex"})
    assert r.status_code == 200, r.text
    own = app.client("esx.school-dsl").get(f"/api/v1/cases/{case_id}/history").json()["entries"]
    assert "conflict.resolve" in {e["action"] for e in own}  # the agency itself still sees its own work
    for user in ("esx.health-dsl", "wsx.business"):
        r = app.client(user).get(f"/api/v1/cases/{case_id}/history")
        assert r.status_code == 200, r.text
        assert conflict_id not in r.text and sub_id not in r.text, user


def _open_esx_case(client: Client, agencies=("esx-schools",)) -> str:
    from tests.server.walks import latest, referral

    data = referral("2026-02-20", "2026-02-18", agencies=agencies)
    r = client.post("/api/v1/cases", json={"case_type": "serious_incident", "referral": {
        "form_id": "crg_referral", "form_version": latest("crg_referral"), "data": data}})
    assert r.status_code == 201, r.text
    return r.json()["case_id"]


# -- the pull feed's per-case audience cache -----------------------------------------------------------
def _holds(changes: list[dict], case_id: str) -> bool | None:
    """True if the pull delivered the case, False if it tombstoned it, None if it said nothing."""
    mine = [c for c in changes if c["entity"] == "case" and c["id"] == case_id]
    return None if not mine else not mine[-1].get("deleted", False)


def test_the_audience_cache_never_serves_a_stale_decision(app):
    """Each field that decides who sees a case changes, and the next pull (immediately, on a warm
    cache) follows it: reviewers, invited partnerships and involved agencies, both ways."""
    from sync.context import CASES

    business = app.client("esx.business")
    case_id = _open_esx_case(business)
    watchers = ("esx.reviewer", "wsx.business", "esx.health-dsl", "wsx.school-dsl", "esx.police-dsl")
    cursors = {}
    for user in watchers:  # warm the cache with "cannot see" for each of them
        changes, cursors[user] = app.client(user).pull_all()
        assert _of_case(changes, case_id) == [], user

    def pull(user: str) -> bool | None:
        changes, cursors[user] = app.client(user).pull_all(cursors[user])
        return _holds(changes, case_id)

    def write_case(**fields) -> None:  # as an administrative correction would: one versioned write
        from sync import access
        with app.store.transaction() as uow:
            doc = uow.get(CASES, case_id)
            new = {**doc.data, **fields}
            new["seen_by"] = sorted(set(doc.data["seen_by"]) | access.case_principals(new))
            uow.update(CASES, case_id, new, expected_version=doc.version, publish=True)

    reviewer_id = app.client("esx.reviewer").user["user_id"]
    for assigned, expect in ((True, True), (False, False)):
        r = business.post(f"/api/v1/cases/{case_id}/assignments", json={"user_id": reviewer_id, "assigned": assigned})
        assert r.status_code == 200, r.text
        assert pull("esx.reviewer") is expect
    for invited, expect in ((True, True), (False, False)):
        r = business.post(f"/api/v1/cases/{case_id}/invitations", json={"partnership": "west-sussex",
                                                                         "invited": invited})
        assert r.status_code == 200, r.text
        assert pull("wsx.business") is expect
        assert pull("wsx.school-dsl") is None  # an invitation is for coordinating staff only
    for agencies, expect in ((["esx-schools", "uh-sussex"], True), (["esx-schools"], False)):
        write_case(involved_agencies=agencies)
        assert pull("esx.health-dsl") is expect
        assert pull("esx.police-dsl") is None


def test_a_case_id_names_one_case_only_so_no_partnership_decides_for_another(app):
    """The cache is keyed by case id; ids are unique in the store, so another partnership cannot
    open a case under an id already used and share (or poison) its cached audience."""
    from tests.server.walks import latest, referral

    case_id = _open_esx_case(app.client("esx.business"))
    wsx = app.client("wsx.business")
    changes, cursor = wsx.pull_all()  # the esx case's audience is now cached
    assert _of_case(changes, case_id) == []
    data = referral("2026-02-20", "2026-02-18", agencies=["wsx-schools"])
    data["referrer"]["agency_id"] = "wsx-schools"
    r = wsx.post("/api/v1/cases", json={"case_id": case_id, "case_type": "serious_incident", "referral": {
        "form_id": "crg_referral", "form_version": latest("crg_referral"), "data": data}})
    # refused exactly like a malformed id (tests/server/test_strings_and_case_ids.py): nothing confirms the case
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-case-id"), r.text
    changes, _ = wsx.pull_all(cursor)
    assert _of_case(changes, case_id) == []
    changes, _ = app.client("esx.school-dsl").pull_all()
    assert _holds(changes, case_id) is True


def test_refusals_do_not_echo_what_the_caller_typed(app):
    """A stale state or an unknown event is refused without repeating the caller's text: the
    result of a push is stored (mutation log) and replayed, so it must never hold free text that a
    device put in the wrong field (here a child's name)."""
    from tests.server.casehelpers import SENTINEL_NAME, Device

    business = Device(app.url, "esx.business")
    case_id = _open_esx_case(business.client)
    stale = business.push("transition", case_id, {"event": "put_to_crg", "expected_state": SENTINEL_NAME})
    assert stale["status"] == "conflict" and SENTINEL_NAME not in str(stale), stale
    unknown = business.push("transition", case_id, {"event": SENTINEL_NAME, "expected_state": "referred"})
    assert unknown["status"] == "rejected" and SENTINEL_NAME not in str(unknown), unknown
    for body in ({"event": "put_to_crg", "expected_state": SENTINEL_NAME},
                 {"event": SENTINEL_NAME, "expected_state": "referred"}):
        r = business.post(f"/api/v1/cases/{case_id}/transitions", body)
        assert r.status_code in (409, 422) and SENTINEL_NAME not in r.text, r.text


def test_the_new_case_endpoints_answer_malformed_input_with_a_problem_on_a_real_case(app):
    """The OpenAPI fuzz logs in as the administrator, who sees no case, so every case operation
    stops at 404 there. Here the CRG (who may send returns back) and an agency hit the newer
    endpoints of a case they can see with malformed input: a 4xx problem, never a 5xx, nothing written."""
    from tests.server.casehelpers import Device

    crg, school = app.client("esx.crg"), app.client("esx.school-dsl")
    case_id = _open_case(app)
    _to_rapid_review(app, case_id)
    first = _save(school, case_id, "rapid_review_agency_return", RETURNS["esx-schools"])
    version = app.store.get("cases", case_id).version
    base = f"/api/v1/cases/{case_id}/agency-returns"
    bodies = [{}, {"reasons": 5}, {"reasons": ""}, {"reasons": "x" * 5000}, {"reasons": None},
              {"reasons": "ok", "base_version": -1}, {"reasons": "ok", "base_version": "1"},
              {"reasons": "ok", "base_version": 10 ** 30}, {"reasons": "ok", "base_version": first["version"] + 9},
              {"reasons": "ok", "extra": {"a": [1]}}, [], "text", {"reasons": {"nested": ["x"]}}]
    for body in bodies:
        r = crg.post(f"{base}/esx-schools/amendment-requests", body)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json"), r.text
    for agency in ("nope", "uh-sussex", "wsx-schools", "x" * 500, "..", "esx-schools%00", "é"):
        r = crg.post(f"{base}/{agency}/amendment-requests", {"reasons": "Add the visits."})
        assert 400 <= r.status_code < 500 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    device = Device(app.url, "esx.crg")
    for payload in ({}, {"agency_id": 5, "reasons": "x"}, {"agency_id": "esx-schools", "reasons": ["x"]},
                    {"agency_id": "esx-schools"}, {"agency_id": ["esx-schools"], "reasons": "x"}):
        result = device.push("request_amendment", case_id, payload)
        assert result["status"] == "rejected" and 400 <= result["problem"]["status"] < 500, (payload, result)
    subs = ("x", "", f"{case_id}.crg_referral.", f"{case_id}.rapid_review_agency_return.uh-sussex", "." * 300)
    for sub in subs:
        r = school.get(f"/api/v1/cases/{case_id}/submissions/{sub}/revisions")
        assert 400 <= r.status_code < 500 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    assert app.store.get("cases", case_id).version == version  # nothing was written
    sub = app.store.get("submissions", first["submission_id"])
    assert sub.version == first["version"] and not sub.data.get("amendment_requested")


def test_a_reused_mutation_id_never_answers_with_another_users_result(app):
    """A duplicate answers the first result only to the user who wrote it: another user replaying
    the id (pushed or as an Idempotency-Key) learns neither the case id nor its reference."""
    from tests.server.casehelpers import create_payload, mutation

    school = app.client("esx.school-dsl")
    m = mutation(1, "create_case", "0b6f1a2e-8c4d-4f5e-9a1b-2c3d4e5f6a7b", create_payload(("esx-schools",)))
    m["payload"]["referral"]["data"].update({"referral_date": "2026-02-20", "incident_date": "2026-02-18",
                                             "la_aware_date": "2026-02-20"})
    r = school.post("/api/v1/sync/push", {"device_id": school.device_id, "mutations": [m]})
    first = r.json()["results"][0]
    assert first["status"] == "applied", first
    for user in ("esx.health-dsl", "wsx.business"):
        other = app.client(user)
        r = other.post("/api/v1/sync/push", {"device_id": other.device_id, "mutations": [{**m, "seq": 1}]})
        result = r.json()["results"][0]
        assert result["status"] == "rejected", result
        assert first["case_id"] not in r.text and first["reference"] not in r.text
        r = other.http.post(f"{app.url}/api/v1/cases/{first['case_id']}/transitions",
                            json={"event": "put_to_crg", "expected_state": "referred"},
                            headers={**other.headers(), "Idempotency-Key": m["mutation_id"]})
        assert r.status_code in (404, 409) and first["reference"] not in r.text, r.text
