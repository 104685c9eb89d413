"""One validation for both doors: a command's payload is read the same way online and offline.

Each mutation kind has one payload schema (sync/payloads.py). These tests prove, over real HTTP:
- a pushed ``invite_partnership`` or ``assign_reviewer`` with a truthy or falsy non-boolean
  (``"false"``, ``0``, ``null``, ``"no"``, ``"true"``, ``1``) is rejected naming the field, and the other
  partnership or the reviewer still cannot read the case (before, the push invited or assigned);
- for every kind, REST and sync refuse the same bad payloads with the same problem (status, type,
  title, detail, and the same errors once the sync ``/payload`` prefix is added to the REST path).
  The bad payloads are derived from the schemas, so a new kind is walked without editing this file.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from marshmallow import fields, validate

from sync.commands import HANDLERS
from sync.payloads import ID_MAX, PAYLOADS, StrictBool, StrictInt
from tests.server.casehelpers import Device, mutation
from tests.support import Client, assert_problem

NOT_BOOLEANS = ["false", 0, None, "no", "true", 1]

# kind -> (REST path, payload fields the REST door takes from the path instead of the body)
REST_DOORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "create_case": ("/api/v1/cases", ()),
    "save_submission": ("/api/v1/cases/{case_id}/submissions", ()),
    "transition": ("/api/v1/cases/{case_id}/transitions", ()),
    "approve": ("/api/v1/cases/{case_id}/approvals", ()),
    "resolve_conflict": ("/api/v1/cases/{case_id}/conflicts", ()),
    "assign_reviewer": ("/api/v1/cases/{case_id}/assignments", ()),
    "invite_partnership": ("/api/v1/cases/{case_id}/invitations", ()),
    "request_amendment": ("/api/v1/cases/{case_id}/agency-returns/{agency_id}/amendment-requests", ("agency_id",)),
    "record_task": ("/api/v1/cases/{case_id}/tasks", ()),
}


def test_every_kind_has_one_schema_a_handler_and_a_rest_door():
    assert set(PAYLOADS) == set(HANDLERS), "add the kind's payload schema to sync/payloads.PAYLOADS"
    assert set(REST_DOORS) == set(HANDLERS), "add the kind's REST door to REST_DOORS in this test"


# -- invite and assign through sync ---------------------------------------------------------------
@pytest.fixture(scope="module")
def opened(server):
    case_id = Device(server.url, "esx.school-dsl").open_case()
    return server, case_id


@pytest.mark.parametrize("kind,field,target", [
    ("invite_partnership", "invited", "wsx.business"),
    ("assign_reviewer", "assigned", "esx.reviewer"),
])
def test_a_pushed_non_boolean_never_invites_or_assigns(opened, kind, field, target):
    server, case_id = opened
    business = Device(server.url, "esx.business")
    other = Client(server.url, target)
    base = {"partnership": "west-sussex"} if kind == "invite_partnership" else {"user_id": other.user["user_id"]}
    batch = [mutation(i + 1, kind, case_id, {**base, field: value}) for i, value in enumerate(NOT_BOOLEANS)]
    r = business.client.post("/api/v1/sync/push", {"device_id": business.client.device_id, "mutations": batch})
    assert r.status_code == 200, r.text
    for result in r.json()["results"]:
        assert result["status"] == "rejected", result
        problem = result["problem"]
        assert problem["status"] == 422 and problem["type"].endswith("/validation-error"), problem
        assert [e["path"] for e in problem["errors"]] == [f"/payload/{field}"], problem
    assert_problem(other.get(f"/api/v1/cases/{case_id}"), 404)
    changes, _ = other.pull_all()
    assert case_id not in {c["id"] for c in changes if c["entity"] == "case"}
    # and online, the same values are refused the same way (before, "false" and 0 meant "uninvite")
    path = REST_DOORS[kind][0].format(case_id=case_id)
    for value in NOT_BOOLEANS:
        body = assert_problem(business.post(path, {**base, field: value}), 422, "validation-error")
        assert [e["path"] for e in body["errors"]] == [f"/{field}"], body
    # a real boolean still works through sync
    business.seq = len(NOT_BOOLEANS)
    assert business.push(kind, case_id, {**base, field: True})["status"] == "applied"
    assert other.get(f"/api/v1/cases/{case_id}").status_code == 200


# -- every kind, both doors, the same problem -----------------------------------------------------
def _sample(field: fields.Field) -> Any:
    """A value of the right type for a field (the walk changes one field at a time)."""
    for v in getattr(field, "validators", ()):
        if isinstance(v, validate.OneOf):
            return v.choices[0]
    if isinstance(field, fields.Nested):
        return _valid(field.schema)
    if isinstance(field, StrictBool):
        return True
    if isinstance(field, StrictInt):
        return 1
    if isinstance(field, fields.Dict):
        return {}
    return "x"


def _valid(schema) -> dict:
    return {name: _sample(f) for name, f in schema.fields.items() if f.required}


def _wrong_values(field: fields.Field) -> list[Any]:
    """Values of the wrong type (or out of bounds) for a field, with null and a truthy string."""
    if isinstance(field, fields.Raw) and type(field) is fields.Raw:
        return []  # any JSON value is allowed
    wrong: list[Any] = [] if field.allow_none else [None]
    if isinstance(field, StrictBool):
        wrong += ["false", "true", 0, 1, "no"]
    elif isinstance(field, StrictInt):
        wrong += ["1", 1.5, True]
    elif isinstance(field, fields.Dict | fields.Nested):
        wrong += ["x", [], 7]
    elif isinstance(field, fields.String):
        wrong += [7, True, {"a": 1}]
        if any(isinstance(v, validate.OneOf) for v in field.validators):
            wrong.append("not-a-choice")
        if any(isinstance(v, validate.Length) and v.max for v in field.validators):
            wrong.append("y" * (max(v.max for v in field.validators if isinstance(v, validate.Length) and v.max) + 1))
    return wrong


def _bad_payloads(kind: str) -> list[tuple[str, dict]]:
    schema = PAYLOADS[kind]()
    in_path = REST_DOORS[kind][1]
    valid = {k: v for k, v in _valid(schema).items() if k not in in_path}
    bad = [("unknown field", {**valid, "zzz_unknown": 1})]
    for name, field in schema.fields.items():
        if name in in_path:
            continue
        if field.required:
            bad.append((f"{name} missing", {k: v for k, v in valid.items() if k != name}))
        for value in _wrong_values(field):
            bad.append((f"{name}={value!r:.20}", {**valid, name: value}))
        if isinstance(field, fields.Nested):
            inner = _valid(field.schema)
            for sub, sub_field in field.schema.fields.items():
                for value in _wrong_values(sub_field):
                    bad.append((f"{name}.{sub}={value!r:.20}", {**valid, name: {**inner, sub: value}}))
    return bad


def _errors(problem: dict) -> set[tuple[str, str]]:
    return {(e["path"], e["message"]) for e in problem.get("errors", [])}


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_rest_and_sync_refuse_the_same_bad_payloads_with_the_same_problem(server, kind):
    business = Client(server.url, "esx.business")
    case_id, agency_id = str(uuid.uuid4()), "esx-schools"
    path_template, in_path = REST_DOORS[kind]
    bad = _bad_payloads(kind)
    assert len(bad) >= 3, kind
    pushed = [mutation(i + 1, kind, case_id, {**payload, **({"agency_id": agency_id} if in_path else {})})
              for i, (_, payload) in enumerate(bad)]
    r = business.post("/api/v1/sync/push", {"device_id": business.device_id, "mutations": pushed})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    path = path_template.format(case_id=case_id, agency_id=agency_id)
    for (label, payload), result in zip(bad, results, strict=True):
        assert result["status"] == "rejected", (kind, label, result)
        offline = result["problem"]
        online = assert_problem(business.post(path, payload), 422, "validation-error")
        assert offline["status"] == online["status"] == 422, (kind, label)
        for key in ("type", "title", "detail"):
            assert offline[key] == online[key], (kind, label, key, offline, online)
        assert _errors(offline) == {("/payload" + p, m) for p, m in _errors(online)}, (kind, label, offline, online)
        assert _errors(offline), (kind, label)


def test_the_walk_covers_truthy_strings_and_bounds():
    """The generated cases include what the finding was about, so the walk is not vacuous."""
    labels = {label for label, _ in _bad_payloads("invite_partnership")}
    assert {"invited='false'", "invited=0", "invited=None", "invited='no'"} <= labels
    assert any(label.startswith("event='yyy") for label, _ in _bad_payloads("transition"))
    assert ID_MAX < 1000
