"""The forms' validator must find exactly what jsonschema alone finds (ADR 0032).

``FormValidator`` skips the parts of a submission the compiled check (:mod:`forms.fastcheck`)
proves valid, and asks that check the yes/no questions of ``if``, ``anyOf``, ``oneOf``, ``not`` and
``contains``. ``ReferenceValidator`` is jsonschema's walk with the same keywords and none of that.
For every shipped form version, on its examples and on generated mutations of them (with long
arrays of repeated, partly broken rows, the shape of issue #10's worst inputs), both must yield
the same errors in the same order: same rule, instance path, schema path and message. So the
listing (the first 100 found) and the counting budget cut at the same error too.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.forms.test_fastcheck as fc
from forms import FormRegistry
from forms.validation import FORMAT_CHECKER, FormValidator, ReferenceValidator, to_field_errors, today_is

REG = FormRegistry.load_default()
VERSIONS = [REG.get(f, v) for f in REG.form_ids() for v in REG.versions(f)]
IDS = [f"{fv.form_id}.v{fv.version}" for fv in VERSIONS]


def _errors(validator, data, today):
    with today_is(today):
        return [(e.validator, tuple(e.absolute_path), tuple(e.absolute_schema_path), e.message)
                for e in validator.iter_errors(data)]


def _same(fv, data, today):
    for final in (True, False):
        schema = (fv.final_validator if final else fv.draft_validator).schema
        ours = FormValidator(schema, format_checker=FORMAT_CHECKER)
        reference = ReferenceValidator(schema, format_checker=FORMAT_CHECKER)
        assert _errors(ours, data, today) == _errors(reference, data, today), (final, today)
        with today_is(today):  # and the capped listing built from them
            capped = to_field_errors(ours.iter_errors(data), fv.enum_labels, limit=5, walk=12)
            expected = to_field_errors(reference.iter_errors(data), fv.enum_labels, limit=5, walk=12)
        assert (capped, capped.omitted, capped.complete) == (expected, expected.omitted, expected.complete)


def test_the_registry_validates_with_the_skipping_validator():
    fv = REG.latest("rapid_review_agency_return")
    assert type(fv.final_validator) is type(FormValidator({}))
    assert type(fv.draft_validator) is type(FormValidator({}))


@pytest.mark.parametrize("fv", VERSIONS, ids=IDS)
def test_examples_give_the_same_errors(fv):
    cases = list(fv.examples["valid"]) + [c["data"] for c in fv.examples["invalid"]]
    for data in [*cases, None, [], "text", 3, {}]:
        for today in fc.TODAYS:
            _same(fv, data, today)


def _arrays(node, prefix=()):
    """The path of every non-empty array in the instance."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _arrays(v, (*prefix, k))
    elif isinstance(node, list):
        if node:
            out.append(prefix)
        for i, v in enumerate(node):
            out += _arrays(v, (*prefix, i))
    return out


@pytest.mark.parametrize("fv", VERSIONS, ids=IDS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutations_give_the_same_errors(fv, data):
    base = copy.deepcopy(data.draw(st.sampled_from(fv.examples["valid"])))
    arrays = _arrays(base)
    if arrays and data.draw(st.booleans()):  # a long array: many copies of its rows, mutated below
        rows = fc._container(base, data.draw(st.sampled_from(arrays)))
        rows.extend(copy.deepcopy(rows[i % len(rows)]) for i in range(data.draw(st.integers(5, 40))))
    specials = fc._special_values(fv)
    fc.mutate(data, base, specials, data.draw(st.integers(1, 6)),
              ["replace", "special", "special", "delete", "duplicate_row"])
    _same(fv, base, data.draw(st.sampled_from(fc.TODAYS)))


def test_a_worst_input_gives_the_same_errors():
    """Issue #10's costliest shape: 1,000 chronology rows, each well-formed but for one rule."""
    fv = REG.latest("rapid_review_agency_return")
    data = copy.deepcopy(fv.examples["valid"][0])
    row = {"date": "2024-01-01", "contact_type": "other", "practitioner_role": "Health visitor",
           "summary": "Seen at home.", "child_seen": True}
    data["chronology"] = [{**row, "row_id": f"r{i}"} if i % 3 else {**row, "row_id": "same", "child_seen": "yes"}
                          for i in range(1000)]
    _same(fv, data, date(2026, 1, 15))


def test_once_the_budget_is_spent_only_the_verdict_is_given():
    """With no walk left (a push whose earlier forms spent the request's budget), an invalid form is
    still refused, with no error listed and the count marked incomplete; a valid one still passes."""
    fv = REG.latest("rapid_review_agency_return")
    valid = copy.deepcopy(fv.examples["valid"][0])
    invalid = {**valid, "chronology": [{**valid["chronology"][0], "child_seen": "yes"}]}
    today = date(2026, 1, 15)
    spent = fv.errors(invalid, final=True, today=today, limit=100, walk=0)
    assert spent == [] and spent.complete is False
    assert fv.errors(invalid, final=True, today=today, limit=100, walk=1) != []
    passed = fv.errors(valid, final=True, today=today, limit=100, walk=0)
    assert passed == [] and getattr(passed, "complete", True) is True
