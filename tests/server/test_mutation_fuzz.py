"""Issue #10 item 3, as a property: whatever a caller sends, for every mutation kind, over REST and
over sync push, against a case with an open conflict, a conflict on a removed chronology row and
stale versions, the server answers no 5xx, and a device's queue always moves on (the seq after a
generated mutation applies in the same batch). Hypothesis drives it on real HTTP (the app in this
process on a loopback port, the real store); examples are few, so the suite stays quick."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.service import KINDS
from tests.server.test_agency_returns_http import TODAY, _open_case, _to_rapid_review
from tests.server.test_hardening import _chronology_conflict, _remove_row_s1, _user_id
from tests.support import Client, InProcessApp

ROUTES = {  # kind -> REST path under the case (None: the collection)
    "create_case": None, "save_submission": "submissions", "transition": "transitions", "approve": "approvals",
    "resolve_conflict": "conflicts", "assign_reviewer": "assignments", "invite_partnership": "invitations",
    "request_amendment": "agency-returns/esx-schools/amendment-requests", "record_task": "tasks",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app = InProcessApp(tmp_path_factory.mktemp("fuzz") / "data", TODAY)
    case_id = _open_case(app)
    _to_rapid_review(app, case_id)
    first, gone = _chronology_conflict(app, case_id)  # its row is removed below: a conflict on a deleted row
    _remove_row_s1(app, case_id)
    _, open_conflict = _chronology_conflict(app, case_id)  # s1 is back: an open conflict on a live row
    device = Client(app.url, "esx.school-dsl")
    yield {"app": app, "case_id": case_id, "conflicts": [gone, open_conflict], "device": device,
           "business": Client(app.url, "esx.business"), "reviewer": _user_id(app, "esx.reviewer"),
           "next_seq": {}, "sub_version": first["version"]}
    app.close()


# control, format and surrogate characters make the whole body a 422 (docs/security.md, strings): not a mutation
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn")), max_size=8)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 10**12), TEXT,
                    st.sampled_from(["false", "0", "no", "final", "draft", "kept", "incoming", "value", "approve",
                                     "reject", "west-sussex", "esx-schools", "put_to_crg", "rapid_review",
                                     "rapid_review_agency_return", "crg_referral", "serious_incident"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(TEXT, inner, max_size=3)),
                      max_leaves=6)
KEYS = ["case_type", "referral", "form_id", "form_version", "data", "status", "event", "expected_state", "decision",
        "comment", "conflict_id", "choose", "value", "user_id", "assigned", "partnership", "invited", "reasons",
        "agency_id", "task", "date", "choice", "note"]


@st.composite
def mutations(draw, world):
    kind = draw(st.sampled_from(sorted(KINDS)))
    payload = draw(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
    # some values that reach deep into the handlers: the real conflicts, forms, users and versions
    if draw(st.booleans()):
        payload["conflict_id"] = draw(st.sampled_from(world["conflicts"]))
        payload["choose"] = draw(st.sampled_from(["kept", "incoming", "value"]))
    if draw(st.booleans()):
        payload.update(form_id="rapid_review_agency_return", form_version=draw(st.sampled_from([1, 2, 3])),
                       status=draw(st.sampled_from(["draft", "final"])), data=draw(st.dictionaries(
                           st.sampled_from(["chronology", "agency_id", "learning", "x"]), VALUES, max_size=3)))
    if draw(st.booleans()):
        payload["user_id"] = world["reviewer"]
    case_id = draw(st.sampled_from([world["case_id"], world["case_id"], str(uuid.uuid4()), "not-a-case"]))
    base_version = draw(st.sampled_from([None, 0, 1, world["sub_version"], 10**6]))
    return kind, case_id, payload, base_version


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_no_5xx_and_the_device_queue_moves_on(world, data):
    assert set(ROUTES) == KINDS  # a new mutation kind must join this test
    kind, case_id, payload, base_version = data.draw(mutations(world))
    device = data.draw(st.sampled_from([world["device"], world["business"]]))
    route = ROUTES[kind]
    path = "/api/v1/cases" + (f"/{case_id}/{route}" if route else "")
    body = dict(payload) if base_version is None else {**payload, "base_version": base_version}
    r = device.post(path, json=body)
    assert r.status_code < 500, (kind, r.status_code, r.text)

    seqs = world["next_seq"]  # per device: the next seq it has not used
    seq = seqs.get(device.device_id, 1)
    probe = {"mutation_id": str(uuid.uuid4()), "seq": seq + 1, "kind": "resolve_conflict",
             "case_id": world["case_id"], "payload": {"conflict_id": "no-such-conflict", "choose": "kept"}}
    generated = {"mutation_id": str(uuid.uuid4()), "seq": seq, "kind": kind, "case_id": case_id, "payload": payload,
                 "base_version": base_version}
    r = device.post("/api/v1/sync/push", json={"device_id": device.device_id, "mutations": [generated, probe]})
    assert r.status_code == 200, (kind, r.status_code, r.text)
    seqs[device.device_id] = seq + 2
    mine, after = r.json()["results"]
    assert mine["status"] in ("applied", "conflict", "rejected"), mine
    assert mine.get("problem", {}).get("status", 0) < 500, mine
    assert after["status"] == "rejected" and after["problem"]["status"] == 404, after  # processed, not pending
