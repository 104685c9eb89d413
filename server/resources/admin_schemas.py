"""Request and response schemas of the admin API (one source for validation and OpenAPI)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from server.auth.accounts import SECTORS

_ID = validate.Regexp(r"^[a-z0-9][a-z0-9._-]{1,62}$", error="Use 2-63 lower-case letters, digits, '.', '_' or '-'.")
_ROLE = validate.Length(min=1, max=64)  # which roles: server.auth.accounts.role_problems, the one check
# a name shows in pickers, audit trails and documents: one of spaces would show as nothing
_NAME = [validate.Length(min=1, max=200), validate.Regexp(r"\s*\S", error="Give a name, not only spaces.")]


class PartnershipIn(Schema):
    partnership_id = fields.Str(required=True, validate=_ID)
    name = fields.Str(required=True, validate=_NAME)
    reference_prefix = fields.Str(validate=validate.Regexp(r"^[A-Z]{1,6}$", error="1-6 capital letters."))


class PartnershipPatch(Schema):
    name = fields.Str(required=True, validate=_NAME)


class PartnershipOut(Schema):
    id = fields.Str()
    name = fields.Str()
    reference_prefix = fields.Str()


class PartnershipSaved(Schema):
    created = fields.Bool(metadata={"description": "false when it already existed (nothing changed)"})
    partnership = fields.Nested(PartnershipOut)


class PartnershipChanged(Schema):
    changed = fields.Bool(metadata={"description": "false when the partnership already had this name"})
    partnership = fields.Nested(PartnershipOut)


class AgencyIn(Schema):
    agency_id = fields.Str(required=True, validate=_ID)
    sector = fields.Str(required=True, validate=validate.OneOf(sorted(SECTORS)))
    name = fields.Str(required=True, validate=_NAME)
    active = fields.Bool(load_default=True)


class AgencyPatch(Schema):
    sector = fields.Str(validate=validate.OneOf(sorted(SECTORS)))
    name = fields.Str(validate=_NAME)
    active = fields.Bool()


class AgencyOut(Schema):
    id = fields.Str()
    partnership = fields.Str()
    sector = fields.Str()
    name = fields.Str()
    active = fields.Bool()


class AgencyList(Schema):
    agencies = fields.List(fields.Nested(AgencyOut))


class UserIn(Schema):
    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
    display_name = fields.Str(validate=_NAME)
    roles = fields.List(fields.Str(validate=_ROLE), required=True, validate=validate.Length(min=1, max=9))
    agency = fields.Str(allow_none=True, load_default=None)
    must_change_password = fields.Bool(load_default=False, metadata={
        "description": "true: the password is temporary and must be changed at the next login"})


class UserPatch(Schema):
    display_name = fields.Str(validate=_NAME)
    roles = fields.List(fields.Str(validate=_ROLE), validate=validate.Length(min=1, max=9))
    agency = fields.Str(allow_none=True)


class UserOut(Schema):
    user_id = fields.Str()
    username = fields.Str()
    display_name = fields.Str()
    partnership = fields.Str()
    agency = fields.Str(allow_none=True)
    roles = fields.List(fields.Str())
    disabled = fields.Bool()
    must_change_password = fields.Bool()
    created_at = fields.Str(allow_none=True)


class UserList(Schema):
    users = fields.List(fields.Nested(UserOut))


class UserChanged(Schema):
    changed = fields.Bool()
    user = fields.Nested(UserOut)


class UserQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    username = fields.Str(validate=validate.Length(max=64))


class TemporaryPasswordIn(Schema):
    temporary_password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class ResetTokenOut(Schema):
    user_id = fields.Str()
    reset_token = fields.Str(metadata={"description": "shown once: hand it to the user out of band"})
    expires_at = fields.Str()


class DeviceOut(Schema):
    device_id = fields.Str()
    user_id = fields.Str()
    registered_at = fields.Str(allow_none=True)
    last_seen = fields.Str(allow_none=True, metadata={
        "description": "last login or token refresh on the device (accurate to the access-token lifetime)"})
    revoked = fields.Bool()
    revoked_at = fields.Str(allow_none=True)


class DeviceList(Schema):
    devices = fields.List(fields.Nested(DeviceOut))


class RevokedOut(Schema):
    device_id = fields.Str()
    revoked = fields.Bool()
    revoked_at = fields.Str(allow_none=True)
