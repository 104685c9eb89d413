"""The fast yes/no check must agree with jsonschema on every example and on generated mutations.

The registry trusts the fast check only when it says "valid"; a disagreement would let an invalid
submission through (fast says valid, jsonschema invalid) or cost time (the other way round).
Both directions are tested.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms import FormRegistry
from forms.checks import slow_errors
from forms.fastcheck import compile_check
from forms.schema_tools import iter_subschemas

REG = FormRegistry.load_default()
VERSIONS = [REG.get(f, v) for f in REG.form_ids() for v in REG.versions(f)]
IDS = [f"{fv.form_id}.v{fv.version}" for fv in VERSIONS]
TODAYS = [date(2026, 1, 15), date(2024, 6, 1)]


def _agree(fv, data, today):
    for final in (True, False):
        fast = fv.fast_final if final else fv.fast_draft
        assert fast is not None
        slow_valid = not slow_errors(fv, data, final=final, today=today)
        assert fast(data, today) == slow_valid, (final, today)


def test_every_shipped_version_has_a_fast_check():
    assert all(fv.fast_final is not None and fv.fast_draft is not None for fv in VERSIONS)


def test_unsupported_keywords_mean_no_fast_check():
    assert compile_check({"type": "object", "patternProperties": {"^x": {}}}) is None
    assert compile_check({"$ref": "#/$defs/a", "$defs": {"a": {}}}) is None
    assert compile_check({"type": "object", "properties": {"a": {"multipleOf": 3}}}) is None


@pytest.mark.parametrize("fv", VERSIONS, ids=IDS)
def test_examples_agree(fv):
    cases = list(fv.examples["valid"]) + [c["data"] for c in fv.examples["invalid"]]
    for data in cases + [None, [], "text", 3, {}]:
        for today in TODAYS:
            _agree(fv, data, today)


def _special_values(fv):
    values = ["", " ", "2025-01-01", "2999-12-31", "2025-02-30", "01/02/2025", "2025-1-1",
              "x@example.org", "x@", "https://example.org/a", "not a url", "esx-schools", "ESX Schools",
              "row-1", "a" * 250, 0, -1, 1.0, 1.5, 121, True, False, None]
    for _, sub in iter_subschemas(fv.schema):
        values += sub.get("enum", [])
        if "const" in sub and isinstance(sub["const"], str | bool | int):
            values.append(sub["const"])
    # keyed by type too: a set would merge 0 with False and 1 with True, which JSON Schema keeps apart
    unique = {(type(v).__name__, v): v for v in values}
    return [unique[k] for k in sorted(unique, key=repr)]


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 130),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=6)


def _paths(node, prefix=()):
    """Every (container path, key) in the instance, plus a fresh key in each object."""
    out = []
    if isinstance(node, dict):
        out.append((prefix, "zz_new"))
        for k, v in node.items():
            out.append((prefix, k))
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((prefix, i))
            out += _paths(v, (*prefix, i))
    return out


def _container(data, path):
    for p in path:
        data = data[p]
    return data


def mutate(data, base, specials, steps: int, actions: list[str]) -> None:
    """Apply ``steps`` drawn edits to ``base`` in place: replace a value (by any JSON value or a value
    special to the form), delete it, or duplicate an array row."""
    for _ in range(steps):
        paths = _paths(base)
        if not paths:
            return
        where, key = data.draw(st.sampled_from(paths))
        parent = _container(base, where)
        action = data.draw(st.sampled_from(actions))
        if action == "delete":
            if isinstance(parent, dict):
                parent.pop(key, None)
            elif isinstance(parent, list) and parent:
                parent.pop(key)
        elif action == "duplicate_row" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            value = data.draw(st.sampled_from(specials)) if action == "special" else data.draw(json_values)
            if isinstance(parent, dict) or (isinstance(parent, list) and key != "zz_new"):
                parent[key] = value


@pytest.mark.parametrize("fv", VERSIONS, ids=IDS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutations_agree(fv, data):
    base = copy.deepcopy(data.draw(st.sampled_from(fv.examples["valid"])))
    specials = _special_values(fv)
    mutate(data, base, specials, data.draw(st.integers(1, 3)), ["replace", "special", "delete", "duplicate_row"])
    _agree(fv, base, data.draw(st.sampled_from(TODAYS)))


# -- the fused shapes (a string field, an object of known properties: ADR 0038) -------------------
class _Text(str):
    pass


SHAPES = [
    {"type": "string", "maxLength": 3},
    {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
    {"type": "string", "enum": ["ab", "cd"], "maxLength": 2},
    {"type": "string", "format": "date", "x-not-future": True, "maxLength": 10},
    {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}, "additionalProperties": False},
    {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "boolean"}},
    {"type": "object", "allOf": [{"if": {"required": ["k"], "properties": {"k": {"const": True}}},
                                  "then": {"required": ["a"]}}]},
    {"required": ["k"], "properties": {"k": {"const": "yes"}}},  # an untyped object rule: non-objects pass
    {"properties": {"k": {"const": False}}},
]
SHAPE_VALUES = [None, True, False, 0, 1, 1.0, "", "a", "ab", "abcd", "abcde", "AB", "cd", _Text("ab"),
                "2026-01-15", "2026-01-16", "2999-01-01", "2026-02-30", [], ["a"], {}, {"a": "x"}, {"a": 1},
                {"a": "x", "b": True}, {"a": 1, "b": 1}, {"k": True}, {"k": 1}, {"k": True, "a": "x"},
                {"k": "yes"}, {"k": "no"}, {"k": False}, {"k": 0}, {"k": "yes", "z": None}]


@pytest.mark.parametrize("schema", SHAPES, ids=[str(i) for i in range(len(SHAPES))])
def test_fused_shapes_agree_with_jsonschema(schema):
    from forms.validation import FORMAT_CHECKER, ReferenceValidator, today_is

    check = compile_check(schema)
    assert check is not None
    reference = ReferenceValidator(schema, format_checker=FORMAT_CHECKER)  # jsonschema's own walk
    today = date(2026, 1, 15)
    for value in SHAPE_VALUES:
        with today_is(today):
            want = not list(reference.iter_errors(value))
        assert check(value, today) is want, (schema, value)
