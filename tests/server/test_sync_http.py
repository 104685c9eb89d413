"""Sync over real HTTP: exactly-once push, ordering by seq, rejections that block nothing, the scoped
pull feed with opaque cursors, tombstones-free isolation between agencies and partnerships."""

from __future__ import annotations

import copy
import uuid

import pytest
import requests

from forms.registry import FormRegistry
from tests.pgfixtures import store_for, stores
from tests.support import Client, assert_problem

SENTINEL_NAME = "Zebedee Sentinel-Quorn"
SENTINEL_DOB = "2019-02-13"


def referral_data(agencies=("esx-schools", "uh-sussex")) -> dict:
    fv = FormRegistry.load_default().get("crg_referral")
    data = copy.deepcopy(fv.examples["valid"][0])
    data["involved_agencies"] = list(agencies)
    data["child"]["name"] = SENTINEL_NAME
    data["child"]["date_of_birth"] = SENTINEL_DOB
    data["referrer"]["agency_id"] = "esx-schools"
    return data


def create_mutation(seq: int, agencies=("esx-schools", "uh-sussex"), **over) -> dict:
    version = FormRegistry.load_default().get("crg_referral").version
    m = {"mutation_id": str(uuid.uuid4()), "seq": seq, "kind": "create_case", "case_id": str(uuid.uuid4()),
         "payload": {"case_type": "serious_incident",
                     "referral": {"form_id": "crg_referral", "form_version": version,
                                  "data": referral_data(agencies)}}}
    m.update(over)
    return m


@pytest.fixture(scope="module", params=stores("pg-sync"))
def sync_server(request, tmp_path_factory):
    from tests.support import LiveServer

    data = tmp_path_factory.mktemp("sync") / "data"
    _, env = store_for(request, request.param, data)
    srv = LiveServer(data, env=env).start(timeout=120)  # a loaded CI machine starts slowly
    yield srv
    srv.stop()


def push(client: Client, mutations: list[dict]) -> requests.Response:
    return client.post("/api/v1/sync/push", {"device_id": client.device_id, "mutations": mutations})


def test_push_is_exactly_once_and_duplicates_answer_the_first_result(sync_server):
    dsl = Client(sync_server.url, "esx.school-dsl")
    batch = [create_mutation(1), create_mutation(2)]
    first = push(dsl, batch)
    assert first.status_code == 200, first.text
    results = first.json()["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert results[0]["reference"].startswith("ESX-")
    again = push(dsl, batch).json()["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert [r["reference"] for r in again] == [r["reference"] for r in results]
    assert [r["case_id"] for r in again] == [m["case_id"] for m in batch]
    business = Client(sync_server.url, "esx.business")
    refs = [c["reference"] for c in business.get("/api/v1/cases").json()["cases"]]
    assert sorted(refs).count(results[0]["reference"]) == 1 and results[1]["reference"] in refs


def test_a_gap_holds_later_mutations_and_a_rejection_blocks_nothing(sync_server):
    dsl = Client(sync_server.url, "esx.school-dsl")
    later = create_mutation(3)
    r = push(dsl, [later]).json()["results"]
    assert r[0]["status"] == "pending"
    bad = create_mutation(1)
    bad["payload"]["referral"]["data"]["la_aware_date"] = "not-a-date"
    good = create_mutation(2)
    r = push(dsl, [bad, good, later]).json()["results"]
    assert [x["status"] for x in r] == ["rejected", "applied", "applied"]
    problem = r[0]["problem"]
    assert problem["status"] == 422 and any(e["path"].endswith("/la_aware_date") for e in problem["errors"])
    assert SENTINEL_NAME not in str(problem) and "not-a-date" not in str(problem)
    # a rejection is final: the retry answers the same rejection
    assert push(dsl, [bad]).json()["results"][0]["status"] == "duplicate"


def test_a_device_pushes_only_for_itself_and_limits_hold(sync_server):
    dsl = Client(sync_server.url, "esx.school-dsl")
    r = dsl.post("/api/v1/sync/push", {"device_id": "someone-elses-device", "mutations": [create_mutation(1)]})
    assert_problem(r, 403, "wrong-device")
    r = dsl.post("/api/v1/sync/push", {"device_id": dsl.device_id, "mutations": [create_mutation(i) for i in
                                                                                    range(1, 202)]})
    assert r.status_code in (413, 422)
    r = dsl.post("/api/v1/sync/push", {"device_id": dsl.device_id, "mutations": [{"kind": "launch"}]})
    assert_problem(r, 422)


def test_pull_is_scoped_resumable_and_cursors_are_checked(sync_server):
    dsl = Client(sync_server.url, "esx.school-dsl")
    created = push(dsl, [create_mutation(1, agencies=("esx-schools",))]).json()["results"][0]
    assert created["status"] == "applied"
    business = Client(sync_server.url, "esx.business")
    page = business.get("/api/v1/sync/pull", params={"limit": 500}).json()
    kinds = {c["entity"] for c in page["changes"]}
    assert {"form", "case_type", "case", "submission"} <= kinds
    ids = [(c["entity"], c["id"]) for c in page["changes"]]
    assert len(ids) == len(set(ids))
    assert ("case", created["case_id"]) in ids
    # paging with a small limit sees every change once
    seen, cursor = [], ""
    while True:
        p = business.get("/api/v1/sync/pull", params={"cursor": cursor, "limit": 3}).json()
        seen += [(c["entity"], c["id"]) for c in p["changes"]]
        cursor = p["cursor"]
        if not p["has_more"]:
            break
    assert sorted(seen) == sorted(ids)
    # nothing new: an empty page; then one change appears exactly once
    assert business.get("/api/v1/sync/pull", params={"cursor": cursor}).json()["changes"] == []
    more = push(dsl, [create_mutation(2, agencies=("esx-schools",))]).json()["results"][0]
    p = business.get("/api/v1/sync/pull", params={"cursor": cursor}).json()
    assert ("case", more["case_id"]) in [(c["entity"], c["id"]) for c in p["changes"]]
    # other partnerships and uninvolved agencies never see it
    for username in ("wsx.business", "esx.police-dsl"):
        other = Client(sync_server.url, username)
        assert_problem(other.get(f"/api/v1/cases/{more['case_id']}"), 404)
        changes = other.get("/api/v1/sync/pull", params={"limit": 500}).json()["changes"]
        assert more["case_id"] not in str(changes) and SENTINEL_NAME not in str(changes)
    # a forged or foreign cursor is answered with an explicit reset
    assert_problem(business.get("/api/v1/sync/pull", params={"cursor": cursor[:-2] + "xx"}), 410, "cursor-reset")


def test_case_view_and_history_for_the_right_people(sync_server):
    dsl = Client(sync_server.url, "esx.school-dsl")
    case = push(dsl, [create_mutation(1)]).json()["results"][0]
    business = Client(sync_server.url, "esx.business")
    view = business.get(f"/api/v1/cases/{case['case_id']}").json()
    assert view["state"] == "referred" and view["reference"] == case["reference"]
    assert view["allowed_events"], view
    assert {d["name"] for d in view["deadlines"]} >= {"sin_notification"}
    history = business.get(f"/api/v1/cases/{case['case_id']}/history").json()["entries"]
    actions = [e["action"] for e in history]
    assert actions[0] == "case.create" and "case.read" in actions
    assert all(e["device_id"] for e in history)
    assert SENTINEL_NAME not in str(history) and SENTINEL_DOB not in str(history)
    # the system administrator manages users, not cases
    assert_problem(Client(sync_server.url, "esx.admin").get(f"/api/v1/cases/{case['case_id']}"), 404)
