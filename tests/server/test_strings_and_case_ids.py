"""Issue #10 item 8: strings in JSON bodies are NFC and free of NUL, lone surrogates and bidi
controls; case ids have one spelling, and a refused id says nothing about other partnerships."""

from __future__ import annotations

import json
import uuid

from tests.server.casehelpers import SENTINEL_NAME, Device, create_payload
from tests.support import assert_problem


def _raw_post(client, path: str, text: str):
    return client.http.post(client.base + path, data=text.encode("utf-8", "surrogatepass"),
                            headers={**client.headers(), "Content-Type": "application/json"})


def test_nul_lone_surrogate_and_bidi_controls_are_refused_with_their_paths(server):
    dev = Device(server.url, "esx.school-dsl")
    payload = create_payload()
    payload["referral"]["data"]["child"]["name"] = "Ann\u202eeb"  # RIGHT-TO-LEFT OVERRIDE
    payload["referral"]["data"]["incident_summary"] = "a\x00b"
    body = json.dumps({"case_id": str(uuid.uuid4()), **payload})
    body = body.replace('"case_type"', '"case_type\\ud800x": 1, "case_type"', 1)  # a lone surrogate in a key
    problem = assert_problem(_raw_post(dev.client, "/api/v1/cases", body), 422, "validation-error")
    paths = {e["path"]: e["message"] for e in problem["errors"]}
    assert "bidirectional control U+202E" in paths["/referral/data/child/name"]
    assert "U+0000" in paths["/referral/data/incident_summary"]
    assert "key" in paths[""]
    assert "\u202e" not in json.dumps(problem, ensure_ascii=False)  # never echoed
    # through sync the same rule holds, naming the mutation's path
    r = dev.client.post("/api/v1/sync/push", {"device_id": dev.client.device_id, "mutations": [{
        "mutation_id": str(uuid.uuid4()), "seq": 1, "kind": "create_case", "case_id": str(uuid.uuid4()),
        "payload": {**payload, "referral": {**payload["referral"], "data": {
            **payload["referral"]["data"], "incident_summary": "ok", "child": {
                **payload["referral"]["data"]["child"], "name": "\u2066x\u2069"}}}}}]})
    problem = assert_problem(r, 422)
    assert [e["path"] for e in problem["errors"]] == ["/mutations/0/payload/referral/data/child/name"]


def test_strings_are_stored_nfc(server):
    dev = Device(server.url, "esx.school-dsl")
    payload = create_payload()
    payload["referral"]["data"]["child"]["name"] = "Zoe\u0308 " + SENTINEL_NAME  # e + combining diaeresis
    result = dev.push("create_case", str(uuid.uuid4()), payload)
    assert result["status"] == "applied", result
    changes, _ = dev.client.pull_all()
    text = json.dumps(changes, ensure_ascii=False)
    assert "Zo\u00eb " + SENTINEL_NAME in text and "Zoe\u0308" not in text


def test_case_ids_have_one_spelling(server):
    dev = Device(server.url, "esx.school-dsl")
    case_id = str(uuid.uuid4())
    for spelling in (case_id.upper(), case_id.replace("-", ""), "{" + case_id + "}"):
        result = dev.push("create_case", spelling, create_payload())
        assert result["status"] == "rejected" and result["problem"]["type"].endswith("/invalid-case-id"), result
    assert dev.push("create_case", case_id, create_payload())["status"] == "applied"


def test_a_taken_case_id_answers_like_an_invalid_one(server):
    east = Device(server.url, "esx.school-dsl")
    west = Device(server.url, "wsx.school-dsl")
    taken = east.open_case()
    payload = create_payload(agencies=("wsx-schools",))
    payload["referral"]["data"]["referrer"]["agency_id"] = "wsx-schools"
    over_rest = west.client.post("/api/v1/cases", {"case_id": taken, **payload})
    malformed = west.client.post("/api/v1/cases", {"case_id": "not-a-uuid", **payload})
    assert over_rest.status_code == malformed.status_code == 422
    assert over_rest.json() == malformed.json()
    assert west.push("create_case", taken, payload)["problem"] == west.push("create_case", "x", payload)["problem"]
