"""POST /api/v1/auth/login | refresh | logout."""

from __future__ import annotations

import logging

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from server.auth.accounts import DEVICE_ID
from server.auth.tokens import auth_required, issue_tokens, load_actor
from server.problems import Problem
from server.resources.common import BEARER, client_address, services

log = logging.getLogger("caseflow.auth")
blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Login, token refresh and logout")


class LoginSchema(Schema):
    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    password = fields.Str(required=True, validate=validate.Length(min=1, max=1024), load_only=True)
    device_id = fields.Str(required=True, validate=validate.Regexp(
        DEVICE_ID, error="Use 8-128 characters: letters, digits, '.', '_', ':' or '-'."),
        metadata={"description": "The client's stable id for this installation (e.g. a UUID)."})


class UserSchema(Schema):
    user_id = fields.Str()
    username = fields.Str()
    partnership = fields.Str()
    agency = fields.Str(allow_none=True)
    sector = fields.Str(allow_none=True)
    roles = fields.List(fields.Str())
    display_name = fields.Str()
    password_change_required = fields.Bool(metadata={
        "description": "true after an admin set a temporary password: only POST /api/v1/auth/password works"})


class TokensSchema(Schema):
    access_token = fields.Str()
    refresh_token = fields.Str()
    user = fields.Nested(UserSchema)


class AccessSchema(Schema):
    access_token = fields.Str()
    refresh_token = fields.Str()


@blp.route("/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(409, description="device-in-use (another account's device) or device-limit-reached "
                                    "(the most devices logged in at once; the problem carries the limit)")
@blp.alt_response(429, description="Too many failed logins for this username from this address, or from this "
                                    "address (Retry-After)")
def login(body):
    """Log in on a device; the tokens are bound to that device."""
    svc = services()
    username, address = body["username"], client_address()
    wait = svc.throttle.retry_after(username, address)
    if wait:
        _refused("too-many-logins", address)
        raise Problem(429, "too-many-logins", "Too many failed logins from here. Wait before trying again.",
                      headers={"Retry-After": str(wait)})
    user = svc.accounts.authenticate(username, body["password"])
    if user is None:
        svc.throttle.failed(username, address)
        _refused("login-failed", address)
        raise Problem(401, "login-failed", "The username or password is wrong, or the account is disabled.")
    svc.throttle.succeeded(username, address)
    session = svc.accounts.open_session(user, body["device_id"])
    return {**issue_tokens(session, user), "user": svc.accounts.public_user(user)}


def _refused(problem: str, address: str) -> None:
    """The operator's trace of a refused login: where from, never which username (personal data)."""
    log.warning("login refused", extra={"request_id": g.get("request_id"), "problem": problem,
                                        "client_address": address})


@blp.route("/refresh", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, AccessSchema)
def refresh():
    """Swap a refresh token (in the Authorization header) for a new access token and a new
    refresh token; the old refresh token stops working (rotation)."""
    actor = load_actor(refresh=True)
    svc = services()
    session = svc.accounts.rotate_refresh(actor.session_id, g.jwt_claims["jti"])
    user = svc.accounts.user(actor.user_id)
    return issue_tokens(session, user)


@blp.route("/logout", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(204)
@auth_required
def logout(actor):
    """Revoke this device's access and refresh tokens."""
    services().accounts.end_session(actor.session_id, actor.user_id)
    return None


@blp.route("/whoami", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, UserSchema)
@auth_required
def whoami(actor):
    """The user behind the access token, as the server knows them now."""
    svc = services()
    return svc.accounts.public_user(svc.accounts.user(actor.user_id))
