"""The store's JSON encoding (ADR 0038): orjson where it is provably ``json.dumps``'s JSON.

``store.fastjson.dumps_data`` must refuse what ``json.dumps(..., allow_nan=False)`` refuses, with the
same exception class, and otherwise write ASCII text that parses to the same value, spelt the
same whenever the value holds no float. The audit line is built around one encoding of the entry
and must be, byte for byte, the canonical JSON the chain's verifier recomputes.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import open_store
from store.audit import canonical, entry_hash, make_line
from store.fastjson import dumps_data


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 127


class Name(str):
    pass


ODD = [math.nan, -math.nan, math.inf, -math.inf, uuid.UUID(int=7), Colour.RED, Level.HIGH, Name("n"),
       dt.date(2026, 1, 1), dt.datetime(2026, 1, 1, tzinfo=dt.UTC), b"x", {1, 2}, (1, "a"), 2**64, -2**63 - 1,
       2**63, 127, 255, -1, 1e-05, 1e16, 5e-324, -0.0, "\x7f", "\x00\x1f\"\\/", "é☃\U0001f600", "\ud800",
       "x" * 127, "y" * 255, None, True, False]

keys = st.one_of(st.text(max_size=6), st.sampled_from(["a", "b", "é", "\x7f"]),
                 st.sampled_from([1, 2.5, True, None]))
atoms = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.sampled_from(ODD))
values = st.recursive(atoms, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _outcome(encode: Any, value: Any) -> tuple[str, Any]:
    try:
        return "text", encode(value)
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return "refused", type(exc)


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(k) or _has_float(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    return False


@settings(max_examples=3000, deadline=None)
@given(values)
def test_dumps_data_is_json_dumps(value):
    got, want = _outcome(dumps_data, value), _outcome(_json, value)
    assert got[0] == want[0], (value, got, want)
    if got[0] == "refused":
        assert got[1] is want[1]
        return
    assert got[1].isascii()
    assert json.loads(got[1]) == json.loads(want[1])
    if not _has_float(value):
        assert got[1] == want[1]


@pytest.mark.parametrize("odd", ODD, ids=repr)
def test_each_odd_value_nested_deep_is_encoded_or_refused_as_json_does(odd):
    value = {"a": [1, {"b": odd, "c": "x" * 130}]}
    got, want = _outcome(dumps_data, value), _outcome(_json, value)
    assert got[0] == want[0]
    assert got[1] is want[1] if got[0] == "refused" else json.loads(got[1]) == json.loads(want[1])


def test_the_store_refuses_nan_and_non_json_values_anywhere_in_a_document(tmp_path):
    store = open_store(tmp_path / "db", background_checkpoint=False)
    try:
        with store.transaction() as u:
            for bad, error in ((math.nan, ValueError), (-math.inf, ValueError), (uuid.uuid4(), TypeError),
                               (Colour.RED, TypeError), (dt.date(2026, 1, 1), TypeError), ({1}, TypeError)):
                with pytest.raises(error):
                    u.insert("c", "a", {"form": {"rows": [{"n": 1}, {"n": bad}]}})
            u.insert("c", "b", {"form": {"rows": [{"n": Level.HIGH, "s": Name("é\x7f")}]}})
        assert store.get("c", "a") is None
        assert store.get("c", "b").data == {"form": {"rows": [{"n": 127, "s": "é\x7f"}]}}
    finally:
        store.close()


def _reference_line(prev: str, n: int, at: str, subject: str | None, entry: Any) -> tuple[str, str]:
    h = entry_hash(prev, n, at, subject, entry)
    return canonical({"n": n, "at": at, "subject": subject, "entry": entry, "prev_hash": prev, "hash": h}), h


@settings(max_examples=500, deadline=None)
@given(entry=st.dictionaries(st.text(max_size=5), values, max_size=5),
       subject=st.one_of(st.none(), st.text(max_size=8)), n=st.integers(1, 10**12))
def test_an_audit_line_is_the_canonical_json_the_verifier_recomputes(entry, subject, n):
    try:
        want = _reference_line("ab" * 32, n, "2026-12-07T10:00:00.000Z", subject, entry)
    except (TypeError, ValueError):
        with pytest.raises((TypeError, ValueError)):
            make_line("ab" * 32, n, "2026-12-07T10:00:00.000Z", subject, entry)
        return
    assert make_line("ab" * 32, n, "2026-12-07T10:00:00.000Z", subject, entry) == want


@settings(max_examples=1000, deadline=None)
@given(values)
def test_sorted_dumps_data_is_canonical_json(value):
    got, want = _outcome(lambda v: dumps_data(v, sort_keys=True), value), _outcome(canonical, value)
    assert got[0] == want[0], (value, got, want)
    if got[0] == "refused":
        assert got[1] is want[1]
        return
    assert json.loads(got[1]) == json.loads(want[1])
    assert list(json.loads(got[1])) == list(json.loads(want[1])) if isinstance(value, dict) else True
    if not _has_float(value):
        assert got[1] == want[1]
