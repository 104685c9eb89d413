"""The request body's nesting check walks only containers; it must measure exactly what the full walk did."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.jsonbody import MAX_DEPTH, _depth


def _reference_depth(value: Any) -> int:
    """Every value counted, recursively: a scalar is 1, a container one more than its deepest child."""
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_depth_agrees_with_the_full_walk(value):
    assert _depth(value, 10_000) == _reference_depth(value)


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


def test_the_limit_is_exact_and_the_walk_stops_past_it():
    for levels in range(MAX_DEPTH - 2, MAX_DEPTH + 3):
        value = json.loads(json.dumps(nested(levels)))
        got = _depth(value, MAX_DEPTH)
        assert (got > MAX_DEPTH) == (levels + 1 > MAX_DEPTH), (levels, got)
    assert _depth([], 5) == 1 and _depth({}, 5) == 1 and _depth("x", 5) == 1 and _depth([[]], 5) == 2
