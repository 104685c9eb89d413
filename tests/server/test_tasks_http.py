"""Tasks over real HTTP (issue #13 item 2): recorded online and pushed offline through the one write
path with the same answers, shown in the case view, carried by the pull feed, refused with plain
reasons; and the cross-boundary route (1.1.14, 1.1.41) walked by the demo users."""

from __future__ import annotations

import uuid

from tests.server.walks import CHILD_NAME, K, S, T, V, Walk, referral, sin

B, CRG, HOS, SCHOOL = "esx.business", "esx.crg", "esx.hos", "esx.school-dsl"


def cross_boundary() -> dict:
    data = referral()
    data["other_areas_involved"] = {"local_authorities": ["Brighton & Hove City Council"]}
    return data


def push(w: Walk, user: str, seq: int, case_id: str, payload: dict) -> dict:
    client = w.client(user)
    r = client.post("/api/v1/sync/push", json={"device_id": f"tablet-{user}", "mutations": [{
        "mutation_id": str(uuid.uuid4()), "seq": seq, "kind": "record_task", "case_id": case_id,
        "base_version": None, "payload": payload}]})
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    return result


def test_1_1_14_1_1_41_the_lead_partnership_is_recorded_before_the_notification_decision(server):
    w = Walk(server.url)
    w.open(SCHOOL, cross_boundary())
    w.run([T(B, "put_to_crg", "referred"), S(HOS, "sin_decision", sin())])
    problem = w.step(*T(HOS, "notify_panel", "sin_consideration", 422))
    assert "Record first: Lead partnership confirmed (where the child normally lives) (1.1.14, 1.1.41, seed 004)." \
        in problem["reasons"]
    view = w.view(B)
    task = next(t for t in view["tasks"] if t["task"] == "lead_partnership_confirmed")
    assert (task["done"], task["you_can_record"], task["required_before"]) == (
        False, True, ["notify_panel", "decide_not_to_notify"])
    assert task["evidence"]["choice"] == ["child_normally_resident_here", "harmed_outside_england_resident_here",
                                          "another_partnership_leads"]
    w.run([
        K(HOS, "lead_partnership_confirmed", date="2026-10-06", choice="another_partnership_leads", status=403),
        K(B, "lead_partnership_confirmed", date="2026-10-06", choice="another_partnership_leads"),
        T(HOS, "notify_panel", "sin_consideration", 422),  # another partnership leads: not ours to notify
        V(B, allowed=["escalate_to_statutory_leads", "transfer_to_lead_partnership",
                      "record_national_review", "record_no_national_review"]),
        # amended (the latest record counts): the child lives here after all
        K(B, "lead_partnership_confirmed", date="2026-10-07", choice="child_normally_resident_here"),
        T(B, "transfer_to_lead_partnership", "sin_consideration", 422),
        T(HOS, "notify_panel", "sin_consideration"),
        V(B, state="rapid_review"),
    ])
    recorded = next(t for t in w.view(SCHOOL)["tasks"] if t["task"] == "lead_partnership_confirmed")["recorded"]
    assert recorded["choice"] == "child_normally_resident_here" and recorded["state"] == "sin_consideration"


def test_record_task_is_one_mutation_online_and_offline_with_the_same_answers(server):
    w = Walk(server.url)
    w.open(SCHOOL, cross_boundary())
    w.run([T(B, "put_to_crg", "referred")])
    case_id = w.case_id
    # the same refusals as the REST call: unknown field, bad choice, future date, wrong role, unknown task
    bad = {"task": "lead_partnership_confirmed", "date": "2099-01-01", "choice": "elsewhere"}
    online = w.step(B, "POST", "tasks", bad, 422)
    offline = push(w, B, 1, case_id, bad)
    assert offline["status"] == "rejected"
    assert {e["path"] for e in offline["problem"]["errors"]} == {e["path"] for e in online["errors"]} == {
        "/payload/date", "/payload/choice"}
    assert CHILD_NAME not in str(offline)
    # an unknown field is refused by the kind's one payload schema, through either door
    w.step(B, "POST", "tasks", {**bad, "colour": "red"}, 422)
    strict = push(w, B, 2, case_id, {**bad, "colour": "red"})
    assert strict["status"] == "rejected" and "/payload/colour" in {e["path"] for e in strict["problem"]["errors"]}
    forbidden = push(w, SCHOOL, 1, case_id, {"task": "lead_partnership_confirmed", "date": "2026-10-06",
                                             "choice": "child_normally_resident_here"})
    assert forbidden["status"] == "rejected" and forbidden["problem"]["status"] == 403
    assert push(w, B, 3, case_id, {"task": "no_such_task", "date": "2026-10-06"})["problem"]["status"] == 422
    assert push(w, B, 4, case_id, {"task": "scrutineer_review", "date": "2026-10-06"})["problem"]["status"] == 409
    # applied offline: the case view and the pull feed both show it
    applied = push(w, B, 5, case_id, {"task": "lead_partnership_confirmed", "date": "2026-10-06",
                                      "choice": "child_normally_resident_here", "note": "Lives in Hastings."})
    assert applied["status"] == "applied", applied
    task = next(t for t in w.view(CRG)["tasks"] if t["task"] == "lead_partnership_confirmed")
    assert task["done"] and task["recorded"]["note"] == "Lives in Hastings."
    changes, _ = w.client(CRG).pull_all()
    pulled = next(c for c in changes if c["entity"] == "case" and c["id"] == case_id)
    assert pulled["data"]["tasks"]["lead_partnership_confirmed"]["choice"] == "child_normally_resident_here"
    # the history says which task and which evidence, never the note
    history = w.client(B).get(w.path("history")).json()["entries"]
    entry = next(e for e in history if e["action"] == "task.record")
    assert entry["what"]["task"] == "lead_partnership_confirmed" and entry["what"]["evidence"] == [
        "choice", "date", "note"]
    assert "Hastings" not in str(history)


def test_a_task_is_refused_to_those_who_cannot_see_or_change_the_case(server):
    w = Walk(server.url)
    w.open(SCHOOL, cross_boundary())
    body = {"task": "lead_partnership_confirmed", "date": "2026-10-06", "choice": "child_normally_resident_here"}
    w.step("wsx.business", "POST", "tasks", body, 404)  # another partnership: no such case for them
    w.step("esx.social-worker", "POST", "tasks", body, 404)  # an agency not involved
    w.step("esx.health-visitor", "POST", "tasks", body, 403)  # involved, but not a coordinating role
    w.step("esx.admin", "POST", "tasks", body, 404)  # the administrator sees no case content
    w.step(B, "POST", "tasks", {**body, "task": 7}, 422)  # strict types
