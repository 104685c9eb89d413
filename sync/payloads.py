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

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

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


def load_payload(kind: str, payload: Any, prefix: str = "/payload") -> dict[str, Any]:
    """The payload as the handler reads it (defaults filled in), or a 422 naming every bad field.

    ``prefix`` is where the payload sits in the request: ``/payload`` in a pushed mutation."""
    try:
        return _INSTANCES[kind].load(payload)
    except ValidationError as exc:
        errors = flatten_marshmallow(exc.messages)
        raise invalid([{**e, "path": prefix + e["path"].replace("/_schema", "")} for e in errors]) from None
