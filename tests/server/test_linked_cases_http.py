"""Linked cases (issue #13 item 4, ADR 0033) over real HTTP with the demo users: a death notification's
or a JAR's `refer_as_serious_incident` opens a linked `serious_incident` in the same step, its CRG
referral a prefilled DRAFT carrying the dates over; both cases show the link; a replay opens nothing
twice; the link is access-checked on both sides."""

from __future__ import annotations

import uuid

from sync.links import linked_case_id
from tests.server.test_death_notifications_http import death, jar, open_jar, open_notification
from tests.server.walks import CHILD_DOB, CHILD_NAME, NATIONAL, S, T, V, Walk, latest, referral
from tests.support import Client, assert_problem

B, HOS, CRG = "esx.business", "esx.hos", "esx.crg"
HEALTH_DSL, POLICE_DSL, SCHOOL_DSL, REVIEWER = "esx.health-dsl", "esx.police-dsl", "esx.school-dsl", "esx.reviewer"


def only_link(view: dict) -> dict:
    assert len(view["links"]) == 1, view["links"]
    return view["links"][0]


def completed_referral(draft: dict) -> dict:
    """The business team completes the prefilled draft: the child's details the source never held."""
    data = referral(aware=draft["la_aware_date"], incident=draft["incident_date"], death="died",
                    agencies=draft["involved_agencies"], looked_after=False, care_leaver=True)
    data.update({k: draft[k] for k in ("abuse_or_neglect", "incident_summary", "referral_route")})
    return data


def test_1_1_16_a_care_leaver_under_18_opens_a_linked_serious_incident_with_the_dates_carried_over(server):
    w = Walk(server.url)
    source = open_notification(w, "care_leaver_death_notification", death(
        "care_leaver", 17, la_aware_date="2026-09-30", abuse_or_neglect="suspected",
        involved_agencies=["esx-childrens-services", "sussex-police"]))
    assert source["case_type_version"] == 3 and source["links"] == []
    fired = w.run([
        T(CRG, "refer_as_serious_incident", "referred", 403),  # the CRG does not open it: the LA and business team
        T(HOS, "refer_as_serious_incident", "referred"),  # no task first: the hand-off is the record
    ])[-1]
    assert fired["state"] == "referred_as_serious_incident"
    link = only_link(fired)
    si_id = link["case_id"]
    assert si_id == linked_case_id(w.case_id, "refer_as_serious_incident", 1)  # derived, never chosen
    assert {k: link[k] for k in ("case_type", "relation", "event", "accessible")} == {
        "case_type": "serious_incident", "relation": "handed_off_to", "event": "refer_as_serious_incident",
        "accessible": True}

    si = Walk(server.url)
    si.case_id, si.states = si_id, ["referred"]
    view = si.check_view(B, state="referred", case_type="serious_incident", allowed=NATIONAL,
                         forms={"crg_referral": "draft", "delay_notice": "not_started"})
    back = only_link(view)
    assert (back["case_id"], back["reference"], back["relation"], back["accessible"]) == (
        w.case_id, source["reference"], "handed_off_from", True)
    assert link["reference"] == view["reference"] != source["reference"]
    draft = next(s for s in view["submissions"] if s["form_id"] == "crg_referral")
    assert draft["status"] == "draft" and draft["updated_by"] == server_user(w, HOS)
    assert {k: draft["data"].get(k) for k in ("incident_date", "la_aware_date", "death_or_serious_harm",
                                              "abuse_or_neglect", "referral_route", "involved_agencies")} == {
        "incident_date": "2026-09-28", "la_aware_date": "2026-09-30", "death_or_serious_harm": "died",
        "abuse_or_neglect": "suspected", "referral_route": "child_death",
        "involved_agencies": ["esx-childrens-services", "sussex-police"]}
    assert draft["data"]["child"] == {"care_leaver": True, "looked_after": False,
                                      "looked_after_by": "East Sussex County Council"}
    # the SIN clock runs from the day the LA became aware, before anyone completes the referral (1.1.15)
    clock = next(d for d in view["deadlines"] if d["name"] == "sin_notification")
    assert clock["due"] == "2026-10-07"
    assert view["involved_agencies"] == ["esx-childrens-services", "sussex-police"]
    # the history says who opened it, from which case, through which event
    created = next(e for e in si.client(B).get(si.path("history")).json()["entries"]
                   if e["action"] == "case.create")
    assert (created["by"], created["what"]["hand_off_from"], created["what"]["event"]) == (
        server_user(w, HOS), w.case_id, "refer_as_serious_incident")
    handed = [e for e in w.client(B).get(w.path("history")).json()["entries"] if e["action"] == "case.hand_off"]
    assert [e["what"]["opened"] for e in handed] == [si_id]

    # a person completes the referral: the child's name and date of birth; then the SIN route goes on
    final = completed_referral(draft["data"])
    final["involved_agencies"] = ["esx-childrens-services", "sussex-police", "uh-sussex"]
    si.run([
        T(B, "put_to_crg", "referred", 422),  # the referral is still a draft
        S(B, "crg_referral", final, version=latest("crg_referral")),
        V(B, allowed=["put_to_crg", *NATIONAL],
          involved_agencies=["esx-childrens-services", "sussex-police", "uh-sussex"]),
        T(B, "put_to_crg", "referred"),
        V(HEALTH_DSL, state="sin_consideration"),  # uh-sussex is involved from the completed referral
    ])
    for case in (si, w):  # the child's details stay in the form, never in a history or on the source
        text = case.client(B).get(case.path("history")).text + w.client(B).get(w.path("")).text
        assert CHILD_NAME not in text and CHILD_DOB not in text


def server_user(w: Walk, username: str) -> str:
    return w.client(username).user["user_id"]


def test_1_1_66_a_jar_referral_opens_a_linked_serious_incident_seen_only_as_far_as_each_user_may(server):
    w = Walk(server.url)
    source = open_jar(w, jar(la_aware_date="2026-09-29", involved_agencies=["sussex-police"]), user=HEALTH_DSL)
    w.run([
        T(B, "start_jar", "referred"),
        S(HOS, "jar_referral", jar(la_aware_date="2026-09-29", involved_agencies=["sussex-police"],
                                    jar_held_on="2026-09-29", abuse_or_neglect_suggested="yes",
                                    findings_summary="Injuries not explained by the account given.")),
        T(POLICE_DSL, "refer_as_serious_incident", "jar_in_progress", 403),  # an agency lead may not
        T(CRG, "refer_as_serious_incident", "jar_in_progress", 403),  # nor the CRG
    ])
    fired = w.run([T(HOS, "refer_as_serious_incident", "jar_in_progress")])[-1]
    assert source["case_type_version"] == 2
    si_id = only_link(fired)["case_id"]
    si = Walk(server.url)
    si.case_id = si_id
    view = si.check_view(B, state="referred", forms={"crg_referral": "draft", "delay_notice": "not_started"})
    draft = next(s for s in view["submissions"] if s["form_id"] == "crg_referral")["data"]
    assert (draft["incident_date"], draft["la_aware_date"], draft["abuse_or_neglect"], draft["incident_summary"]) == (
        "2026-09-28", "2026-09-29", "suspected", "Injuries not explained by the account given.")
    assert next(d for d in view["deadlines"] if d["name"] == "sin_notification")["due"] == "2026-10-06"

    # both sides in full for those who may see both: the coordinating roles and the involved police
    for user in (B, CRG, POLICE_DSL):
        assert only_link(w.view(user))["case_id"] == si_id, user
        assert only_link(si.view(user))["case_id"] == w.case_id, user
    # the referring hospital sees its JAR, and only that a serious incident was opened from it
    hidden = only_link(w.view(HEALTH_DSL))
    assert hidden == {"case_id": None, "case_type": "serious_incident", "reference": None,
                      "relation": "handed_off_to", "event": "refer_as_serious_incident",
                      "at": hidden["at"], "accessible": False}
    assert si_id not in w.client(HEALTH_DSL).get(w.path("")).text
    assert_problem(si.client(HEALTH_DSL).get(si.path("")), 404, "case-not-found")  # never through the link
    assert_problem(si.client(HEALTH_DSL).get(si.path("history")), 404)
    changes, _ = si.client(HEALTH_DSL).pull_all()
    assert si_id not in str(changes)
    jar_change = next(c for c in changes if c["entity"] == "case" and c["id"] == w.case_id)
    assert jar_change["data"]["links"] == [hidden]
    # an uninvolved agency and another partnership see neither case, nor the link
    for user in (SCHOOL_DSL, "wsx.business"):
        for case in (w, si):
            assert_problem(case.client(user).get(case.path("")), 404, "case-not-found")
        changes, _ = si.client(user).pull_all()
        assert si_id not in str(changes) and w.case_id not in str(changes), user
    # the police lead, who sees both, gets both links in its pull
    changes, cursor = si.client(POLICE_DSL).pull_all()
    by_id = {c["id"]: c["data"] for c in changes if c["entity"] == "case"}
    assert only_link(by_id[si_id])["case_id"] == w.case_id and only_link(by_id[w.case_id])["case_id"] == si_id

    # a lead reviewer sees only the case assigned: the SI, and that it came from a JAR
    reviewer = si.client(REVIEWER).user["user_id"]
    assert si.client(B).post(si.path("assignments"), json={"user_id": reviewer}).status_code == 200
    assert only_link(si.view(REVIEWER))["accessible"] is False
    assert_problem(w.client(REVIEWER).get(w.path("")), 404)
    changes, cursor = si.client(REVIEWER).pull_all()
    assert w.case_id not in str(changes)
    # assigned to the JAR too: the link opens, and the SI comes again in the pull with it shown
    assert w.client(B).post(w.path("assignments"), json={"user_id": reviewer}).status_code == 200
    changes, _ = si.client(REVIEWER).pull_all(cursor)
    by_id = {c["id"]: c["data"] for c in changes if c["entity"] == "case"}
    assert only_link(by_id[si_id])["case_id"] == w.case_id and only_link(by_id[w.case_id])["case_id"] == si_id
    # an invited partnership reads the SI, and sees the JAR only as a case it may not open
    assert si.client(B).post(si.path("invitations"), json={"partnership": "west-sussex"}).status_code == 200
    assert only_link(si.view("wsx.business"))["accessible"] is False
    assert_problem(w.client("wsx.business").get(w.path("")), 404)
    # an invited reader cannot act on the SI, nor reach the JAR through it
    assert_problem(si.client("wsx.business").post(si.path("submissions"), json={
        "form_id": "crg_referral", "form_version": latest("crg_referral"), "data": draft, "status": "draft"}), 403)


def test_a_replayed_hand_off_opens_one_case(server):
    w = Walk(server.url)
    open_jar(w, jar(abuse_or_neglect_suggested="yes"))
    device = Client(server.url, B, device_id=f"tablet-replay-{uuid.uuid4().hex[:8]}")
    before = {c["case_id"] for c in device.get("/api/v1/cases").json()["cases"]}
    batch = {"device_id": device.device_id, "mutations": [{
        "mutation_id": str(uuid.uuid4()), "seq": 1, "kind": "transition", "case_id": w.case_id,
        "payload": {"event": "refer_as_serious_incident", "expected_state": "referred"}}]}
    first = device.post("/api/v1/sync/push", json=batch).json()["results"][0]
    assert first["status"] == "applied", first
    opened = first["opened_case"]
    assert opened["case_type"] == "serious_incident"
    for _ in range(2):  # the batch cut off and sent again, twice
        again = device.post("/api/v1/sync/push", json=batch).json()["results"][0]
        assert (again["status"], again["opened_case"]) == ("duplicate", opened)
    # online, with an Idempotency-Key: the same once more
    after = {c["case_id"] for c in device.get("/api/v1/cases").json()["cases"]}
    assert after - before == {opened["case_id"]}
    assert only_link(w.view(B))["case_id"] == opened["case_id"]
    # the event cannot be fired a second time from the final state: no second case either
    w.run([T(B, "refer_as_serious_incident", "referred", 409)])
    assert {c["case_id"] for c in device.get("/api/v1/cases").json()["cases"]} == after


def test_an_online_retry_with_its_idempotency_key_opens_one_case(server):
    w = Walk(server.url)
    open_jar(w, jar(abuse_or_neglect_suggested="yes"))
    client = w.client(B)
    key = str(uuid.uuid4())
    body = {"event": "refer_as_serious_incident", "expected_state": "referred"}
    answers = [client.http.post(server.url + w.path("transitions"), json=body,
                                headers={**client.headers(), "Idempotency-Key": key}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["links"] == answers[1].json()["links"]
    si_id = only_link(answers[0].json())["case_id"]
    sis = [c for c in client.get("/api/v1/cases").json()["cases"] if c["case_id"] == si_id]
    assert len(sis) == 1

