"""ui_schema format 2 (ADR 0019): every shipped form's RJSF uiSchema, derived from format 1."""

from __future__ import annotations

from forms.registry import FormRegistry
from forms.ui_rjsf import to_rjsf

REG = FormRegistry.load_default()


def _objects(schema: dict, ui: dict, path: str = ""):
    if isinstance(schema.get("properties"), dict):
        yield path, schema, ui
        for key, sub in schema["properties"].items():
            yield from _objects(sub, ui.get(key, {}), f"{path}/{key}")
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        yield from _objects(schema["items"], ui.get("items", {}), f"{path}/items")


def test_every_shipped_form_has_a_format_2_ui_schema_that_fits_its_schema():
    for form_id in REG.form_ids():
        for version in REG.versions(form_id):
            doc = REG.public_document(form_id, version)
            ui, schema = doc["ui_schema_v2"], doc["schema"]
            assert doc["ui_schema"] == REG.get(form_id, version).ui_schema  # format 1 unchanged
            for path, obj, node in _objects(schema, ui):
                order = node["ui:order"]
                assert order[-1] == "*" and sorted(order[:-1]) == sorted(obj["properties"]), (form_id, path)
                for key, sub in obj["properties"].items():
                    names = node.get(key, {}).get("ui:enumNames")
                    enum = sub.get("enum") or (sub.get("items") or {}).get("enum")
                    if names is not None:
                        assert enum and len(names) == len(enum), (form_id, path, key)
                    cond = node.get(key, {}).get("ui:showIf")
                    if cond and not cond["field"].startswith("/"):
                        assert cond["field"] in obj["properties"], (form_id, path, key)


def test_format_1_words_become_rjsf_keys():
    fv = REG.get("rapid_review_agency_return", 2)
    ui = to_rjsf(fv.ui_schema, fv.schema)
    assert ui["ui:sections"][0]["title"] == "Your agency"
    assert ui["ui:order"][:3] == ["agency_id", "agency_name", "contact"]
    rows = ui["chronology"]
    assert rows["ui:addLabel"] == "Add a row" and rows["items"]["row_id"]["ui:widget"] == "hidden"
    assert rows["items"]["contact_type"]["ui:enumNames"][0] == "Home visit"
    assert rows["items"]["contact_type_other"]["ui:showIf"] == {"field": "contact_type", "equals": "other"}
    assert ui["contact"]["phone"]["ui:options"] == {"inputType": "tel"}
    assert ui["child"]["disability"]["ui:enumNames"] == ["Yes", "No", "Not known"]  # readable defaults


def test_a_condition_on_another_object_is_a_pointer_from_the_root():
    ui = to_rjsf({"fields": {"a.x": {"show_if": {"any": [{"field": "b.flag", "equals": True},
                                                          {"field": "a.y", "in": ["p"]}]}}}},
                 {"type": "object", "properties": {"a": {"type": "object", "properties": {
                     "x": {"type": "string"}, "y": {"type": "string"}}}, "b": {"type": "object", "properties": {
                         "flag": {"type": "boolean"}}}}})
    assert ui["a"]["x"]["ui:showIf"] == {"any": [{"field": "/b/flag", "equals": True}, {"field": "y", "in": ["p"]}]}
