"""ADR 0012: linear keywords agree with jsonschema's, and every array and string is bounded."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema._utils import uniq

from forms import FormRegistry
from forms.bounds import DEFAULT_MAX_ITEMS, all_unique, unbounded_fields, with_default_bounds
from forms.validation import build_validator

JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 2.5]),
                              st.sampled_from(["", "a", "1"])),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.sampled_from("ab"), inner, max_size=2)),
                    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON, max_size=6))
def test_hashed_unique_items_agrees_with_jsonschema(items):
    assert all_unique(items) == uniq(items)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_our_keywords_give_jsonschemas_verdicts(instance):
    schema = {"anyOf": [{"type": "array", "uniqueItems": True, "maxItems": 2, "items": {"type": ["integer", "null"]}},
                        {"type": "object", "additionalProperties": False, "properties": {"a": {"enum": [1, "a"]}}},
                        {"type": "string", "maxLength": 0, "pattern": "^$"}, {"const": True},
                        {"not": {"type": ["number", "boolean", "null"]}, "contains": {"const": None}}]}
    ours = build_validator(schema)
    assert ours.is_valid(instance) == Draft202012Validator(schema).is_valid(instance)
    assert bool(list(ours.iter_errors(instance))) == bool(list(Draft202012Validator(schema).iter_errors(instance)))


def test_every_shipped_form_validates_with_every_array_and_string_bounded():
    registry = FormRegistry.load_default()
    for form_id in registry.form_ids():
        for number in registry.versions(form_id):
            fv = registry.get(form_id, number)
            assert unbounded_fields(with_default_bounds(fv.schema)) == []
            validator = fv.final_validator
            assert unbounded_fields(validator.schema) == [], (form_id, number)


def test_an_oversized_array_is_one_error_and_is_not_walked():
    fv = FormRegistry.load_default().latest("crg_referral")
    data = dict(fv.examples["valid"][0], involved_agencies=[{"x": i} for i in range(DEFAULT_MAX_ITEMS + 1)])
    errors = fv.errors(data, final=True, today=date(2026, 1, 1))
    assert [(e.path, e.rule) for e in errors] == [("/involved_agencies", "maxItems")]


def test_forms_check_requires_limits_in_a_new_version(tmp_path):
    """A new version must declare maxItems/maxLength; `new-version` writes them, so removing one
    is what the check catches."""
    import json

    from click.testing import CliRunner

    from forms.checks import check_definitions
    from forms.cli import forms_cli
    from tests.forms.test_api import _copy_definitions

    directory = _copy_definitions(tmp_path)
    assert CliRunner().invoke(forms_cli, ["new-version", "crg_referral", "--dir", str(directory)]).exit_code == 0
    assert check_definitions(directory, allow_unpublished=True) == []
    path = directory / "crg_referral.v3.json"
    raw = json.loads(path.read_text())
    del raw["schema"]["properties"]["involved_agencies"]["maxItems"]
    path.write_text(json.dumps(raw))
    assert check_definitions(directory, allow_unpublished=True) == [
        "crg_referral.v3.json: /schema/properties/involved_agencies: an array needs maxItems"]
