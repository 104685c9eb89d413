"""Decisions made offline. Approvals (issue 5: "an approval given offline counts if that approval is still
open"): a vote pushed later counts while the request it was cast on is open; a vote cast on a
request that has since been rejected and asked again, or on one already decided, changes nothing
and comes back as a conflict that says why. A transition pushed from a state the case has left is a
conflict too, never applied."""

from __future__ import annotations

import uuid

from tests.server.walks import AGENCIES, S, T, Walk, referral, sin
from tests.support import Client

B, CRG, HOS = "esx.business", "esx.crg", "esx.hos"
EVENT = "notify_panel"


def _escalated(server) -> Walk:
    w = Walk(server.url)
    w.open(B, referral(agencies=list(AGENCIES.values())))
    views = [{"row_id": f"lead-{p}", "partner": p, "lead_name": "Lead", "view": v, "reasoning": "Recorded."}
             for p, v in (("local_authority", "notify"), ("health", "notify"), ("police", "notify"))]
    w.run([T(B, "put_to_crg", "referred"), T(CRG, "escalate_to_statutory_leads", "sin_consideration")])
    w.run([S("esx.la-lead", "sin_decision", sin("notify", leads_agreed=False, split_decision=views))])
    return w


class Device:
    """A lead's phone: reads the case while online, pushes its decision later."""

    def __init__(self, server, username: str):
        self.client = Client(server.url, username)
        self.seq = 0

    def version(self, w: Walk) -> int:
        return self.client.get(w.path("")).json()["version"]

    def push_vote(self, w: Walk, base_version: int, decision: str = "approve") -> dict:
        self.seq += 1
        r = self.client.post("/api/v1/sync/push", json={"device_id": self.client.device_id, "mutations": [{
            "mutation_id": str(uuid.uuid4()), "seq": self.seq, "kind": "approve", "case_id": w.case_id,
            "base_version": base_version, "payload": {"event": EVENT, "decision": decision, "comment": "Offline."}}]})
        assert r.status_code == 200, r.text
        (result,) = r.json()["results"]
        return result


def test_a_vote_cast_offline_counts_while_its_request_is_open(server):
    w = _escalated(server)
    la, health, police = (Device(server, u) for u in ("esx.la-lead", "esx.health-lead", "esx.police-lead"))
    w.run([T(HOS, EVENT, "sin_escalated", 202)])
    seen = {d: d.version(w) for d in (la, health, police)}  # each phone syncs once, then goes offline
    assert la.push_vote(w, seen[la])["status"] == "applied"
    assert health.push_vote(w, seen[health])["status"] == "applied"
    last = police.push_vote(w, seen[police])
    assert last["status"] == "applied" and last["state"] == "rapid_review", last
    # a fourth vote from a phone that is still offline: the step is decided, nothing changes
    late = Device(server, "esx.la-lead")
    version_now = w.view(B)["version"]
    result = late.push_vote(w, seen[la])
    assert (result["status"], result["reason"]) == ("conflict", "approval-not-open"), result
    assert w.view(B)["version"] == version_now


def test_a_vote_on_a_request_asked_again_since_does_not_count(server):
    w = _escalated(server)
    la, police = Device(server, "esx.la-lead"), Device(server, "esx.police-lead")
    w.run([T(HOS, EVENT, "sin_escalated", 202)])
    first_request = la.version(w)  # the LA lead's phone sees the first request, then goes offline
    assert police.push_vote(w, police.version(w), "reject")["status"] == "applied"  # the request is rejected
    w.run([T(HOS, EVENT, "sin_escalated", 202)])  # ... and asked again
    before = w.view(B)
    stale = la.push_vote(w, first_request)
    assert (stale["status"], stale["reason"]) == ("conflict", "approval-request-reopened"), stale
    after = w.view(B)
    assert after["version"] == before["version"] and after["pending_approvals"] == before["pending_approvals"]
    # decided again on the current request, the same phone's vote counts
    fresh = la.push_vote(w, la.version(w))
    assert fresh["status"] == "applied" and fresh.get("awaiting_approvals"), fresh
    votes = {m["sector"] for m in w.view(B)["pending_approvals"]["missing"]}
    assert "local_authority" not in votes and {"health", "police"} <= votes


def test_a_transition_pushed_from_a_stale_state_is_a_conflict_and_changes_nothing(server):
    w = Walk(server.url)
    w.open(B, referral(agencies=list(AGENCIES.values())))
    phone = Device(server, CRG)
    seen = phone.client.get(w.path("")).json()  # the CRG's phone last saw the case in `referred`
    w.run([T(B, "put_to_crg", "referred")])  # meanwhile the business team moves it on
    before = w.view(B)
    phone.seq += 1
    r = phone.client.post("/api/v1/sync/push", json={"device_id": phone.client.device_id, "mutations": [{
        "mutation_id": str(uuid.uuid4()), "seq": phone.seq, "kind": "transition", "case_id": w.case_id,
        "base_version": seen["version"], "payload": {"event": "put_to_crg", "expected_state": seen["state"]}}]})
    (result,) = r.json()["results"]
    assert (result["status"], result["reason"], result["state"]) == ("conflict", "stale-state", "sin_consideration")
    after = w.view(B)
    assert (after["version"], after["state"]) == (before["version"], before["state"])
