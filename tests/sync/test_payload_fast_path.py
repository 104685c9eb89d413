"""The payload fast path (sync/payloads.py, ADR 0038) loads exactly what marshmallow loads.

For every mutation kind, payloads built from the kind's own schema (each field's bounds and
choices, values just inside and outside them, other types, missing and unknown fields) are loaded
by ``load_payload`` and by the schema itself: the same dict (keys in the same order, the same
objects passed on), or the same problem.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields, validate

from sync import payloads
from sync.payloads import PAYLOADS, load_payload
from sync.problems import Problem, flatten_marshmallow, invalid

ODD = [None, True, False, 0, 1, -1, 2**70, 1.0, 0.5, "", " ", "x", "draft", "final", [], ["x"], {}, {"a": 1},
       "é" * 3, "a" * 64, "a" * 65, "a" * 200, "a" * 201, "a" * 4000, "a" * 4001, "2026-01-01"]


def _candidates(field: fields.Field) -> list[Any]:
    out = list(ODD)
    for v in field.validators:
        if isinstance(v, validate.OneOf):
            out += list(v.choices) + [c.upper() for c in v.choices]
        if isinstance(v, validate.Length):
            for n in (v.min, v.max, v.equal):
                if n is not None:
                    out += ["b" * max(0, n - 1), "b" * n, "b" * (n + 1)]
    return out


@st.composite
def payload_for(draw: Any, kind: str) -> Any:
    schema = payloads._INSTANCES[kind]
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([None, [], "x", 1]))
    out: dict[Any, Any] = {}
    for name, field in schema.load_fields.items():
        if draw(st.integers(0, 6)) == 0:
            continue  # missing
        if isinstance(field, fields.Nested):
            out[name] = draw(st.sampled_from([{}, None, {"form_id": "x", "form_version": 1, "data": {}}]))
        else:
            out[name] = draw(st.sampled_from(_candidates(field)))
    if draw(st.integers(0, 8)) == 0:
        out[draw(st.sampled_from(["extra", "Form_id", 1]))] = "x"
    return out


def _reference(kind: str, payload: Any) -> Any:
    """What load_payload answered before the fast path: Schema.load, or its problem."""
    try:
        return payloads._INSTANCES[kind].load(payload)
    except ValidationError as exc:
        errors = flatten_marshmallow(exc.messages)
        return invalid([{**e, "path": "/payload" + e["path"].replace("/_schema", "")} for e in errors])


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_load_payload_answers_what_the_schema_answers(kind, data):
    payload = data.draw(payload_for(kind))
    want = _reference(kind, payload)
    try:
        got = load_payload(kind, payload)
    except Problem as problem:
        assert isinstance(want, Problem), (payload, problem.to_dict())
        assert problem.to_dict() == want.to_dict()
        return
    assert not isinstance(want, Problem), (payload, want.to_dict())
    assert list(got.items()) == list(want.items())
    nested = {n for n, f in payloads._INSTANCES[kind].load_fields.items() if isinstance(f, fields.Nested)}
    for key, value in got.items():  # the same objects: prevalidate knows the form data by identity
        if key in payload and key not in nested:
            assert value is payload[key]


def test_the_hot_kinds_have_a_fast_path_and_it_is_taken(monkeypatch):
    assert {k for k, f in payloads._FAST.items() if f is not None} >= {"save_submission", "transition", "approve"}
    assert payloads._FAST["create_case"] is None  # a nested schema: marshmallow only

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("marshmallow was asked")

    monkeypatch.setattr(payloads._INSTANCES["save_submission"], "load", refuse)
    data = {"a": [1]}
    got = load_payload("save_submission", {"status": "draft", "data": data, "form_version": 2, "form_id": "f"})
    assert list(got) == ["form_id", "form_version", "data", "status"] and got["data"] is data
    with pytest.raises(AssertionError, match="marshmallow was asked"):  # anything unsure goes to marshmallow
        load_payload("save_submission", {"status": "Draft", "data": data, "form_version": 2, "form_id": "f"})


def test_a_default_is_filled_in_as_marshmallow_fills_it():
    assert list(load_payload("assign_reviewer", {"user_id": "u1"}).items()) == [("user_id", "u1"), ("assigned", True)]
    assert load_payload("transition", {"event": "e", "expected_state": "s"}) == {"event": "e", "expected_state": "s"}
