"""One payload schema per mutation kind: the only place a command's payload is validated.

A command reaches the write path through two doors: an online REST call and a mutation in a
sync push. Both doors validate the payload with the schema registered here (the REST body
schemas in ``server/resources/cases.py`` are these classes, plus the envelope fields REST
carries in the body), so a value is never read one way online and another way offline.

Types are strict: a boolean is ``true`` or ``false`` (never ``"false"``, ``0`` or ``null``), a
whole number is never a boolean or a float, a string is a string, and unknown fields are
refused. Every string a caller sends has a length bound.

To add a mutation kind: write its payload schema here, add it to :data:`PAYLOADS`, and add its
handler to ``sync.commands.HANDLERS``; a test checks that the two registries name the same kinds,
and the OpenAPI document describes the new kind's mutation from this schema (docs/contract.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate

from sync.problems import flatten_marshmallow, invalid

ID_MAX = 200  # ids, slugs, event and state names
COMMENT_MAX = 4000


class StrictBool(fields.Boolean):
    """``true`` or ``false`` only: marshmallow's Boolean reads ``"false"``, ``"no"`` and ``0`` too."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise self.make_error("invalid", input=value)


class StrictInt(fields.Integer):
    """A whole number that is not a boolean (``True`` is an ``int`` in Python, never in a payload)."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class JsonObject(fields.Dict):
    """A JSON object passed on as it came (no copy): the form data is validated by its form's JSON
    schema, and the write path's lock-free form validation (sync.prevalidate) knows it by identity."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> dict:
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        return value


def _id(**kwargs: Any) -> fields.String:
    return fields.Str(validate=validate.Length(min=1, max=ID_MAX), **kwargs)


def _comment(**kwargs: Any) -> fields.String:
    return fields.Str(validate=validate.Length(max=COMMENT_MAX), **kwargs)


def _not_blank(value: str) -> None:
    if value and not value.strip():  # "" is refused once, by the length rule
        raise ValidationError("Say what the agency should amend.")


class PayloadSchema(Schema):
    class Meta:
        unknown = RAISE


class ReferralPayload(PayloadSchema):
    form_id = _id(required=True)
    form_version = StrictInt(required=True)
    data = JsonObject(required=True, metadata={"description": "The form's data (validated by its JSON schema)."})


class CreateCasePayload(PayloadSchema):
    case_type = _id(required=True)
    referral = fields.Nested(ReferralPayload, required=True)


class SaveSubmissionPayload(PayloadSchema):
    form_id = _id(required=True)
    form_version = StrictInt(required=True)
    data = JsonObject(required=True, metadata={"description": "The form's data (validated by its JSON schema)."})
    status = fields.Str(required=True, validate=validate.OneOf(["draft", "final"]))


class TransitionPayload(PayloadSchema):
    event = _id(required=True)
    expected_state = _id(required=True)
    comment = _comment()


class ApprovePayload(PayloadSchema):
    event = _id(required=True)
    decision = fields.Str(required=True, validate=validate.OneOf(["approve", "reject"]))
    comment = _comment()


class ResolveConflictPayload(PayloadSchema):
    conflict_id = _id(required=True)
    choose = fields.Str(required=True, validate=validate.OneOf(["kept", "incoming", "value"]))
    value = fields.Raw(allow_none=True, metadata={
        "description": "With choose=value: the value to set (absent: remove the field)."})


class AssignReviewerPayload(PayloadSchema):
    user_id = _id(required=True)
    assigned = StrictBool(load_default=True, metadata={"description": "false unassigns."})


class InvitePartnershipPayload(PayloadSchema):
    partnership = _id(required=True)
    invited = StrictBool(load_default=True, metadata={"description": "false withdraws the invitation."})


class RequestAmendmentPayload(PayloadSchema):
    agency_id = _id(required=True)
    reasons = fields.Str(required=True, validate=[validate.Length(min=1, max=COMMENT_MAX), _not_blank],
                         metadata={"description": "What the agency should amend (shown to that agency only)."})


class RecordTaskPayload(PayloadSchema):
    """A task of the case type recorded with its evidence; which evidence a task takes (and which it
    requires) is declared in the case type, and the write path checks it (sync.tasks)."""

    task = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    date = fields.Str(validate=validate.Length(equal=10), metadata={"description": "YYYY-MM-DD, not in the future"})
    choice = fields.Str(validate=validate.Length(min=1, max=64))
    note = fields.Str(validate=validate.Length(min=1, max=2000))


PAYLOADS: dict[str, type[PayloadSchema]] = {
    "create_case": CreateCasePayload,
    "save_submission": SaveSubmissionPayload,
    "transition": TransitionPayload,
    "approve": ApprovePayload,
    "resolve_conflict": ResolveConflictPayload,
    "assign_reviewer": AssignReviewerPayload,
    "invite_partnership": InvitePartnershipPayload,
    "request_amendment": RequestAmendmentPayload,
    "record_task": RecordTaskPayload,
}

_INSTANCES = {kind: schema() for kind, schema in PAYLOADS.items()}

# -- the fast path -----------------------------------------------------------------------------------
# A payload that is plainly valid is loaded without marshmallow's machinery (about 12 us of a saved
# draft's ~200 us, ADR 0038). It gives exactly what ``Schema.load`` gives (the same dict, keys in the
# schema's order, defaults filled in, the same objects passed on) and only ever answers "valid":
# anything it is not sure of (a missing or unknown field, another type, a length out of bounds) goes
# to ``Schema.load``, so every error still comes from marshmallow. A schema with a field, validator
# or hook this does not know gets no fast path at all.

_Step = tuple[str, Callable[[Any], bool], bool, Any]  # (name, accepts, required, default)


def _accepts(field: fields.Field) -> Callable[[Any], bool] | None:
    """A test that ``field`` deserializes a present value to itself, without error; None if unknown."""
    if field.pre_load or field.post_load or field.data_key is not None or field.attribute is not None:
        return None
    bounds: list[tuple[int | None, int | None, int | None]] = []
    choices: list[frozenset[str]] = []
    for v in field.validators:
        if type(v) is validate.Length:
            bounds.append((v.min, v.max, v.equal))
        elif type(v) is validate.OneOf and all(type(c) is str for c in v.choices):
            choices.append(frozenset(v.choices))
        else:
            return None
    kind = type(field)
    if kind is fields.String:
        def ok_str(x: Any) -> bool:
            if type(x) is not str:
                return False
            n = len(x)
            for low, high, equal in bounds:
                if (equal is not None and n != equal) or (low is not None and n < low) \
                        or (high is not None and n > high):
                    return False
            return all(x in c for c in choices)
        return ok_str
    if bounds or choices:
        return None
    if kind is StrictInt:
        return lambda x: type(x) is int
    if kind is StrictBool:
        return lambda x: type(x) is bool
    if kind is JsonObject:
        return lambda x: type(x) is dict
    if kind is fields.Raw and field.allow_none:
        return lambda x: True
    return None


def _fast_loader(schema: Schema) -> Callable[[Any], dict[str, Any] | None] | None:
    if any(schema._hooks.values()) or schema.many or schema.partial or schema.opts.unknown != RAISE \
            or schema.dict_class is not dict:
        return None
    steps: list[_Step] = []
    for name, field in schema.load_fields.items():
        accepts = _accepts(field)
        if accepts is None or callable(field.load_default):
            return None
        steps.append((name, accepts, field.required, field.load_default))
    known = frozenset(name for name, *_ in steps)

    def load(payload: Any) -> dict[str, Any] | None:
        if type(payload) is not dict or not known.issuperset(payload):
            return None
        out: dict[str, Any] = {}
        for name, accepts, required, default in steps:
            if name in payload:
                value = payload[name]
                if not accepts(value):
                    return None
                out[name] = value
            elif required:
                return None
            elif default is not missing:
                out[name] = default
        return out

    return load


_FAST = {kind: _fast_loader(schema) for kind, schema in _INSTANCES.items()}


def load_payload(kind: str, payload: Any, prefix: str = "/payload") -> dict[str, Any]:
    """The payload as the handler reads it (defaults filled in), or a 422 naming every bad field.

    ``prefix`` is where the payload sits in the request: ``/payload`` in a pushed mutation."""
    fast = _FAST.get(kind)
    if fast is not None:
        loaded = fast(payload)
        if loaded is not None:
            return loaded
    try:
        return _INSTANCES[kind].load(payload)
    except ValidationError as exc:
        errors = flatten_marshmallow(exc.messages)
        raise invalid([{**e, "path": prefix + e["path"].replace("/_schema", "")} for e in errors]) from None
