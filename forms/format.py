"""The shape of a definition file ``forms/definitions/<form_id>.v<version>.json``.

Checked at load time (every problem named with its JSON Pointer) before anything else is read.
"""

from __future__ import annotations

import re
from typing import Any

ROLES = ("practitioner", "agency_safeguarding_lead", "business_team", "crg_member", "statutory_lead",
         "la_head_of_safeguarding", "independent_scrutineer", "lead_reviewer", "admin")

FILE_NAME = re.compile(r"^(?P<form_id>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.json$")

WIDGETS = ("text", "textarea", "date", "select", "radio", "checkbox", "checkboxes", "email", "tel", "url",
           "number", "table", "repeat", "group", "tags", "hidden")

_PATH = {"type": "string", "pattern": r"^[a-z_][a-z0-9_]*(\[\])?(\.[a-z_][a-z0-9_]*(\[\])?)*$"}

_CONDITION: dict[str, Any] = {
    "type": "object",
    "oneOf": [
        {"required": ["field", "equals"], "properties": {"field": _PATH, "equals": {}},
         "additionalProperties": False},
        {"required": ["field", "in"], "properties": {"field": _PATH, "in": {"type": "array", "minItems": 1}},
         "additionalProperties": False},
        {"required": ["all"], "properties": {"all": {"type": "array", "minItems": 1,
                                                     "items": {"$ref": "#/$defs/condition"}}},
         "additionalProperties": False},
        {"required": ["any"], "properties": {"any": {"type": "array", "minItems": 1,
                                                     "items": {"$ref": "#/$defs/condition"}}},
         "additionalProperties": False},
    ],
}

DEFINITION_FORMAT: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {"condition": _CONDITION, "path": _PATH},
    "type": "object",
    "additionalProperties": False,
    "required": ["form_id", "version", "title", "description", "roles", "schema", "ui_schema", "examples"],
    "properties": {
        "form_id": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "version": {"type": "integer", "minimum": 1},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string", "minLength": 1},
        "roles": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(ROLES)}},
        "accept_until": {"type": "string", "format": "date"},
        "schema": {"type": "object", "required": ["$schema", "type", "properties"],
                   "properties": {"$schema": {"const": "https://json-schema.org/draft/2020-12/schema"},
                                  "type": {"const": "object"}}},
        "ui_schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["sections"],
            "properties": {
                "sections": {
                    "type": "array", "minItems": 1,
                    "items": {
                        "type": "object", "additionalProperties": False,
                        "required": ["id", "title", "fields"],
                        "properties": {
                            "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                            "title": {"type": "string", "minLength": 1},
                            "help": {"type": "string"},
                            "fields": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/path"}},
                            "show_if": {"$ref": "#/$defs/condition"},
                        },
                    },
                },
                "fields": {
                    "type": "object",
                    "propertyNames": {"$ref": "#/$defs/path"},
                    "additionalProperties": {
                        "type": "object", "additionalProperties": False,
                        "properties": {
                            "widget": {"enum": list(WIDGETS)},
                            "help": {"type": "string"},
                            "placeholder": {"type": "string"},
                            "show_if": {"$ref": "#/$defs/condition"},
                            "enum_labels": {"type": "object", "additionalProperties": {"type": "string"}},
                            "columns": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                            "add_label": {"type": "string"},
                        },
                    },
                },
            },
        },
        "migration": {
            "type": "object",
            "additionalProperties": False,
            "required": ["from_version"],
            "properties": {
                "from_version": {"type": "integer", "minimum": 1},
                "notes": {"type": "string"},
                "renamed": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False, "required": ["from", "to"],
                    "properties": {"from": {"$ref": "#/$defs/path"}, "to": {"$ref": "#/$defs/path"}}}},
                "dropped": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False, "required": ["field", "reason"],
                    "properties": {"field": {"$ref": "#/$defs/path"}, "reason": {"type": "string"}}}},
                "defaulted": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False, "required": ["field", "value"],
                    "properties": {"field": {"$ref": "#/$defs/path"}, "value": {}}}},
            },
        },
        "examples": {
            "type": "object",
            "additionalProperties": False,
            "required": ["valid", "invalid"],
            "properties": {
                "valid": {"type": "array", "minItems": 1, "items": {"type": "object"}},
                "invalid": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False, "required": ["data", "errors"],
                    "properties": {
                        "note": {"type": "string"},
                        "final": {"type": "boolean"},
                        "data": {},
                        "errors": {"type": "array", "minItems": 1,
                                   "items": {"type": "string", "pattern": "^(/.*)?$"}},
                    }}},
            },
        },
    },
}
