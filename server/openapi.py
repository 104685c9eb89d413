"""The OpenAPI document as a checked contract: every response has a schema, every error is a Problem.

- One ``Problem`` schema, the body the server really sends for every error (RFC 9457: ``type``,
  ``title``, ``status``, ``detail``, ``errors[{path, message}]``, plus extras such as ``reasons``).
- :class:`ContractPlugin` runs on every operation any blueprint registers (yours too): it documents
  the errors every operation of that shape can answer (a body: 400, 413, 415, 422; query
  parameters: 422; a bearer token: 401, 403; a path parameter: 404; always 500 and 503), gives every
  error response the problem+json content, and gives file downloads (``.csv``, ``.pdf``, ...) their
  media type. ``tests/server/test_openapi_contract.py`` then fails for any operation whose
  documented status has no schema, so a new endpoint is caught the day it is added.
- ``mutations`` of a sync push are a ``oneOf`` discriminated by ``kind``, one member per kind, built
  from the kind's payload schema in ``sync.payloads`` (adding a kind there documents it here).
- Response schemas (``components/schemas``) for the resources that send plain dicts are JSON
  Schemas in :data:`RESPONSES`; a resource names one with :func:`returns`. They are documentation
  only (the handler's dict is sent as it is, never dumped through a schema that could drop fields);
  schemathesis checks every answer against them.
"""

from __future__ import annotations

import http
import re
from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from marshmallow import Schema, fields, validate

PROBLEM_MIME = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
FILE_TYPES = {
    ".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pdf": "application/pdf", ".svg": "image/svg+xml", ".mmd": "text/vnd.mermaid",
}


class FieldErrorSchema(Schema):
    class Meta:
        unknown = "include"

    path = fields.Str(required=True, metadata={"description": "JSON Pointer to the bad field ('' is the whole body)"})
    message = fields.Str(required=True)
    # "in" names where the field is when it is not the body (query, header, path)
    in_ = fields.Str(data_key="in", validate=validate.OneOf(["query", "header", "path"]))


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error leaves the server (extras are allowed)."""

    class Meta:
        unknown = "include"

    type = fields.Str(required=True, metadata={"description": "A URI naming the problem, stable per kind"})
    title = fields.Str(required=True)
    status = fields.Int(required=True, validate=validate.Range(min=400, max=599))
    detail = fields.Str(required=True, metadata={"description": "Plain English; never personal data"})
    errors = fields.List(fields.Nested(FieldErrorSchema), metadata={"description": "Every bad field"})


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def returns(blp: Any, status: int, schema: str, description: str | None = None) -> Any:
    """Document a success response's schema (a component of :data:`RESPONSES`) without dumping."""
    return blp.alt_response(status, schema=ref(schema), description=description, success=True)


_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_NSTR = {"type": ["string", "null"]}
_NINT = {"type": ["integer", "null"]}
_OBJ = {"type": "object"}
_STRS = {"type": "array", "items": _STR}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": {**required, **(optional or {})}, "required": sorted(required)}


# ADR 0019: the form's layout in RJSF's uiSchema conventions, derived from ui_schema (format 1)
UI_SCHEMA_V2 = {
    "type": "object",
    "description": "ui_schema format 2 (ADR 0019): RJSF's uiSchema conventions. A tree of the form's "
                   "properties (`items` for array rows) with `ui:` keys: `ui:widget` (textarea, select, radio, "
                   "checkbox, checkboxes, email, uri, hidden), `ui:options`, `ui:help`, `ui:enumNames`, "
                   "`ui:order` on every object; caseflow's own: `ui:sections` (root), `ui:showIf` "
                   "({field, equals} | {field, in} | {all} | {any}), `ui:addLabel`, `ui:columns`. "
                   "Derived from `ui_schema` (format 1), which is still served unchanged.",
    "properties": {"ui:sections": {"type": "array", "items": _obj(
        {"id": _STR, "title": _STR, "fields": {"type": "array", "items": _STR}}, {"help": _STR})}},
}
DEADLINE = _obj({"name": _STR, "status": _STR}, {"due": _NSTR, "working_days_left": _NINT})
CASE_SUMMARY = _obj({
    "case_id": _STR, "reference": _STR, "case_type": _STR, "state": _STR, "version": _INT,
    "deadlines": {"type": "array", "items": ref("Deadline")},
}, {"case_type_version": _INT, "partnership": _STR, "created_at": _STR, "updated_at": _STR})
CASE_VIEW = {"allOf": [ref("CaseSummary"), _obj({
    "allowed_events": _STRS,
    "forms": {"type": "array", "items": _obj({"form_id": _STR, "status": _STR}, {
        "version": _INT, "latest_version": _INT, "submission_id": _NSTR, "submission_version": _NINT,
        "agency_id": _NSTR})},
}, {
    "blocked_events": {"type": "array", "items": _obj({"event": _STR, "reasons": _STRS})},
    "submissions": {"type": "array", "items": _OBJ}, "involved_agencies": _STRS,
    "assigned_reviewers": _STRS, "invited_partnerships": _STRS,
    "pending_approvals": {"type": ["object", "null"]}, "last_rejection": {"type": ["object", "null"]},
    "open_conflicts": {"type": "array", "items": _OBJ}, "tasks": {"type": "array", "items": _OBJ},
    "state_history": {"type": "array", "items": _obj({"state": _STR}, {"entered_at": _STR, "event": _NSTR})},
    "awaiting_approvals": _BOOL, "approval": _OBJ,
    "links": {"type": "array", "items": ref("CaseLink")},
})]}
# a linked case (ADR 0033): id and reference only for a reader who may open it
CASE_LINK = _obj({"case_type": _STR, "relation": _STR, "accessible": _BOOL, "case_id": _NSTR, "reference": _NSTR},
                 {"event": _NSTR, "at": _NSTR})
MUTATION_RESULT = _obj({"status": {"type": "string", "enum": ["applied", "conflict"]}}, {
    "version": _INT, "duplicate": {"type": "boolean", "description": "a replayed Idempotency-Key"},
    "case_id": _STR, "submission_id": _STR, "state": _STR, "detail": _STR, "reason": _STR,
    "opened_case": _obj({"case_id": _STR, "case_type": _STR, "reference": _STR})})
PUSH_RESULT = _obj({
    "mutation_id": _STR, "seq": _INT,
    "status": {"type": "string", "enum": ["applied", "duplicate", "conflict", "rejected", "pending"]},
}, {"version": _INT, "problem": ref("Problem"), "detail": _STR, "first_status": _STR, "case_id": _STR})
CHANGE = _obj({"entity": _STR, "id": _STR}, {"version": _INT, "data": _OBJ, "deleted": {"const": True}})

RESPONSES: dict[str, dict[str, Any]] = {
    "Health": _obj({"status": _STR}),
    "Ready": _obj({"status": _STR}, {"last_seq": _INT}),
    "DeviceRevocation": _obj({"device_id": _STR, "revoked": _BOOL}, {"revoked_at": _STR}),
    "FormList": _obj({"forms": {"type": "array", "items": _obj(
        {"form_id": _STR, "versions": {"type": "array"}}, {"title": _STR, "latest": _INT, "roles": _STRS})}}),
    "FormVersion": _obj({"form_id": _STR, "version": _INT, "schema": _OBJ, "ui_schema_v2": UI_SCHEMA_V2},
                        {"ui_schema": {"type": ["object", "null"]}, "title": _STR}),
    "CaseTypeList": _obj({"case_types": {"type": "array", "items": _obj(
        {"case_type": _STR, "version": _INT}, {"title": _STR})}}),
    "CaseTypeDescription": _obj({"case_type": _STR, "version": _INT, "initial_state": _STR,
                                 "states": {"type": "array"}, "transitions": {"type": "array"},
                                 "deadlines": {"type": "array"}}),
    "Deadline": DEADLINE,
    "CaseSummary": CASE_SUMMARY,
    "CaseView": CASE_VIEW,
    "CaseLink": CASE_LINK,
    "CaseList": _obj({"cases": {"type": "array", "items": ref("CaseSummary")}}),
    "MutationResult": MUTATION_RESULT,
    "History": _obj({"case_id": _STR, "entries": {"type": "array", "items": _obj(
        {"n": _INT, "at": _STR, "action": _NSTR}, {"by": _NSTR, "device_id": _NSTR, "what": _OBJ})}}),
    "Revisions": _obj({"case_id": _STR, "submission_id": _STR, "form_id": _STR, "version": _INT,
                       "revisions": {"type": "array", "items": _obj(
                           {"revision": _INT, "status": _STR}, {"form_version": _INT, "at": _STR, "data": _OBJ})}},
                      {"agency_id": _NSTR}),
    "AgencyReturns": _OBJ,
    "PushResult": PUSH_RESULT,
    "PushResults": _obj({"results": {"type": "array", "items": ref("PushResult")}}),
    "Change": CHANGE,
    "PullPage": _obj({"changes": {"type": "array", "items": ref("Change")}, "cursor": _STR, "has_more": _BOOL}),
}


class ContractPlugin(BasePlugin):
    """Completes every operation's responses (see the module docstring)."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        for method, op in (operations or {}).items():
            if not isinstance(op, dict):
                continue
            params = [p for p in op.get("parameters", []) if isinstance(p, dict)]
            statuses = {500, 503}
            if "requestBody" in op or method in ("post", "put", "patch"):
                statuses |= {400, 413, 415, 422}
            if any(p.get("in") == "query" for p in params):
                statuses.add(422)
            if op.get("security"):
                statuses |= {401, 403}
            if "{" in (path or ""):
                statuses.add(404)
            responses = op["responses"] = {str(k): v for k, v in op.get("responses", {}).items()}
            for status in sorted(statuses):
                responses.setdefault(str(status), {"description": http.HTTPStatus(status).phrase})
            for status, response in responses.items():
                if not isinstance(response, dict):
                    continue  # a reference to a component response (those carry the Problem already)
                if status == "default" or status[0] in "45":
                    response["content"] = {PROBLEM_MIME: {"schema": PROBLEM_REF}}
                elif status.startswith("2") and "content" not in response and status != "204":
                    media = next((m for ext, m in FILE_TYPES.items() if re.search(re.escape(ext) + "$", path or "")),
                                 None)
                    if media is not None:
                        response["content"] = {media: {"schema": {"type": "string", "format": "binary"}}}


def _one_of_mutations(self: Any, field: Any, ret: dict, **kwargs: Any) -> dict:
    """apispec attribute function: a :class:`MutationItem` field is a oneOf of the kinds' mutations."""
    if not isinstance(field, MutationItem):
        return {}
    refs = {kind: self.resolve_nested_schema(schema) for kind, schema in mutation_schemas().items()}
    for key in ("type", "additionalProperties"):
        ret.pop(key, None)
    return {"oneOf": list(refs.values()),
            "discriminator": {"propertyName": "kind", "mapping": {k: r["$ref"] for k, r in refs.items()}}}


class MutationItem(fields.Dict):
    """One mutation of a push: checked whole by ``sync.service.parse_batch`` (a bad payload is a
    ``rejected`` result, never a 422 for the batch), documented as a oneOf by kind."""


_MUTATION_SCHEMAS: dict[str, type[Schema]] = {}


def mutation_schemas() -> dict[str, type[Schema]]:
    """``{kind: <Kind>Mutation schema}``: the envelope with ``kind`` fixed and the kind's payload."""
    from sync.payloads import PAYLOADS

    for kind, payload in PAYLOADS.items():
        if kind not in _MUTATION_SCHEMAS:
            name = "".join(w.title() for w in kind.split("_")) + "Mutation"
            _MUTATION_SCHEMAS[kind] = type(name, (Schema,), {
                "mutation_id": fields.Str(required=True, validate=validate.Regexp(r"^[A-Za-z0-9-]{8,64}$"),
                                          metadata={"description": "The client's UUID for this mutation"}),
                "seq": fields.Int(required=True, strict=True, validate=validate.Range(min=1)),
                "kind": fields.Str(required=True, validate=validate.OneOf([kind])),
                "case_id": fields.Str(allow_none=True),
                "base_version": fields.Int(allow_none=True, strict=True, validate=validate.Range(min=0)),
                "payload": fields.Nested(payload, required=True),
                "client_time": fields.Str(allow_none=True),
            })
    return _MUTATION_SCHEMAS


def install(api: Api) -> None:
    """Register the Problem and response components and the oneOf field on a (ProblemApi) Api."""
    api.spec.components.schema("Problem", schema=ProblemSchema)
    for name, schema in RESPONSES.items():
        api.spec.components.schema(name, component=schema)
    api.ma_plugin.converter.add_attribute_function(_one_of_mutations)


class ContractApiMixin:
    """For ``ProblemApi``: flask-smorest's default error responses become problem+json Problems."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = {PROBLEM_MIME: {"schema": PROBLEM_REF}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            "DEFAULT_ERROR", {"description": "Any other error", "content": {PROBLEM_MIME: {"schema": PROBLEM_REF}}},
            lazy=True)
