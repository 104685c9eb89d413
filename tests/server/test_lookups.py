"""Pickers' look-ups: who sees which agencies and colleagues, over REST and in the pull feed, and the
tombstones a device gets when an agency is made inactive or a colleague disabled."""

from __future__ import annotations

import pytest

from tests.support import InProcessApp, assert_problem


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    app = InProcessApp(tmp_path_factory.mktemp("lookups") / "data")
    yield app
    app.close()


def _by_entity(changes: list[dict], entity: str) -> dict[str, dict]:
    return {c["id"]: c for c in changes if c["entity"] == entity}


def test_rest_lookups_are_scoped_and_least_privilege(site):
    business = site.client("esx.business")
    agencies = business.get("/api/v1/lookups/agencies").json()["agencies"]
    assert {a["id"] for a in agencies} == {"esx-childrens-services", "nhs-sussex-icb", "uh-sussex",
                                           "sussex-police", "esx-schools"}
    people = business.get("/api/v1/lookups/users", params={"role": "lead_reviewer"}).json()["users"]
    assert [set(p) for p in people] == [{"user_id", "display_name", "roles", "agency"}]
    assert people[0]["roles"] == ["lead_reviewer"]
    everyone = business.get("/api/v1/lookups/users").json()["users"]
    assert len(everyone) == 14 and "username" not in str(everyone)  # east-sussex only, no usernames
    wsx = site.client("wsx.business").get("/api/v1/lookups/agencies").json()["agencies"]
    assert [a["id"] for a in wsx] == ["wsx-schools"]
    dsl = site.client("esx.school-dsl")
    assert dsl.get("/api/v1/lookups/agencies").status_code == 200  # referrers name involved agencies
    assert_problem(dsl.get("/api/v1/lookups/users"), 403, "forbidden-role")
    worker = site.client("esx.social-worker")
    assert_problem(worker.get("/api/v1/lookups/agencies"), 403)
    assert_problem(worker.get("/api/v1/lookups/users"), 403)
    assert_problem(business.get("/api/v1/lookups/users", params={"role": "wizard"}), 422)


def test_feed_carries_lookups_and_tombstones(site):
    crg, worker, dsl = site.client("esx.crg"), site.client("esx.social-worker"), site.client("esx.police-dsl")
    changes, crg_cursor = crg.pull_all()
    people, agencies = _by_entity(changes, "user"), _by_entity(changes, "agency")
    assert len(people) == 14 and set(agencies) >= {"sussex-police", "esx-schools"} and "wsx-schools" not in agencies
    reviewer = next(p for p in people.values() if p["data"]["roles"] == ["lead_reviewer"])
    assert set(reviewer["data"]) == {"user_id", "display_name", "roles", "agency"}
    w_changes, w_cursor = worker.pull_all()
    assert not _by_entity(w_changes, "user") and not _by_entity(w_changes, "agency")
    d_changes, d_cursor = dsl.pull_all()
    assert _by_entity(d_changes, "agency") and not _by_entity(d_changes, "user")

    admin = site.client("esx.admin")
    uid = reviewer["id"]
    assert admin.post(f"/api/v1/admin/users/{uid}/disable").status_code == 200
    r = admin.http.patch(site.url + "/api/v1/admin/agencies/esx-schools", headers=admin.headers(),
                         json={"active": False})
    assert r.status_code == 200, r.text
    changes, crg_cursor = crg.pull_all(crg_cursor)
    assert _by_entity(changes, "user")[uid].get("deleted") is True
    assert _by_entity(changes, "agency")["esx-schools"].get("deleted") is True
    assert "esx-schools" not in {a["id"] for a in crg.get("/api/v1/lookups/agencies").json()["agencies"]}
    d_changes, _ = dsl.pull_all(d_cursor)
    assert _by_entity(d_changes, "agency")["esx-schools"].get("deleted") is True
    assert not _by_entity(d_changes, "user")  # never saw people: no tombstones either
    w_changes, _ = worker.pull_all(w_cursor)
    assert not _by_entity(w_changes, "user") and not _by_entity(w_changes, "agency")
    # enabled again: back in the pickers, renamed: the new name
    assert admin.post(f"/api/v1/admin/users/{uid}/enable").status_code == 200
    r = admin.http.patch(site.url + f"/api/v1/admin/users/{uid}", headers=admin.headers(),
                         json={"display_name": "Reviewer Two"})
    assert r.status_code == 200
    changes, _ = crg.pull_all(crg_cursor)
    assert _by_entity(changes, "user")[uid]["data"]["display_name"] == "Reviewer Two"


def test_data_from_before_the_lookups_is_backfilled_once(tmp_path):
    from server.admin.handlers import backfill_lookups
    from store import open_store

    store = open_store(tmp_path / "store")
    try:
        with store.transaction() as uow:  # as an older caseflow wrote them: no directory, agency unpublished
            uow.insert("partnerships", "kent", {"id": "kent", "name": "Kent"})
            uow.insert("agencies", "kent-police", {"id": "kent-police", "partnership": "kent", "sector": "police",
                                                   "name": "Kent Police"})
            uow.insert("users", "u1", {"user_id": "u1", "username": "kent.crg", "partnership": "kent",
                                       "agency": None, "roles": ["crg_member"], "disabled": False})
        before = store.last_seq()
        assert backfill_lookups(store) == 2
        published = {(d.collection, d.id) for d in store.changes_since(before, 100)}
        assert published == {("directory", "u1"), ("agencies", "kent-police")}
        assert store.get("directory", "u1").data["display_name"] == "kent.crg"
        assert backfill_lookups(store) == 0 and store.last_seq() == before + 2
    finally:
        store.close()
