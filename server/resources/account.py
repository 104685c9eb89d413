"""POST /api/v1/auth/password (change your own) and /api/v1/auth/password-reset (redeem a one-time token).

Both go through the one write path as ``admin.set_password`` / ``admin.redeem_reset`` with the user
as the actor; both end the user's other sessions.
"""

from __future__ import annotations

import hmac
import uuid

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from server.auth.passwords import hash_password, password_problems, verify_password
from server.auth.tokens import auth_required
from server.problems import Problem, invalid
from server.resources.admin import token_hash
from server.resources.common import BEARER, ProblemSchema, client_address, services
from sync.actor import Actor
from sync.clock import rfc3339
from sync.service import Mutation

blp = Blueprint("account", __name__, url_prefix="/api/v1/auth", description="Your own password")


class PasswordChangeIn(Schema):
    current_password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
    new_password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class PasswordResetIn(Schema):
    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    reset_token = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    new_password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class DoneOut(Schema):
    changed = fields.Bool()


def _doc(*codes: int):
    def decorate(fn):
        for code in codes:
            fn = blp.alt_response(code, schema=ProblemSchema, content_type="application/problem+json",
                                  description=f"problem+json ({code})")(fn)
        return fn
    return decorate


def _new_password(password: str, username: str) -> str:
    problems = password_problems(password, username)
    if problems:
        raise invalid([{"path": "/new_password", "message": p} for p in problems])
    return hash_password(password)


@blp.route("/password", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(PasswordChangeIn)
@blp.response(200, DoneOut)
@_doc(401, 403, 422, 429)
@auth_required
def change_password(body, actor: Actor):
    """Change your own password (required after an admin set a temporary one); other devices are logged out."""
    svc = services()
    # A stolen access token must not become a way to guess the password (and keep the account):
    # wrong current passwords are throttled like logins, on their own pair.
    key, address = f"password:{actor.user_id}", client_address()
    wait = svc.throttle.retry_after(key, address)
    if wait:
        raise Problem(429, "too-many-attempts", "Too many failed attempts. Wait before trying again.",
                      headers={"Retry-After": str(wait)})
    user = svc.accounts.user(actor.user_id)
    if not verify_password(user["password_hash"], body["current_password"]):
        svc.throttle.failed(key, address)
        raise Problem(403, "wrong-password", "The current password is not right.")
    payload = {"user_id": actor.user_id, "password_hash": _new_password(body["new_password"], user["username"])}
    svc.write_path.apply_one(actor, Mutation(str(uuid.uuid4()), "admin.set_password", None, payload))
    svc.throttle.succeeded(key, address)
    return {"changed": True}


@blp.route("/password-reset", methods=["POST"])
@blp.arguments(PasswordResetIn)
@blp.response(200, DoneOut)
@_doc(400, 422, 429)
def redeem_reset(body):
    """Set a new password with the one-time token an admin issued (it works once, before it expires)."""
    svc = services()
    key, address = f"reset:{body['username'].lower()}", client_address()  # its own pair, beside logins'
    wait = svc.throttle.retry_after(key, address)
    if wait:
        raise Problem(429, "too-many-attempts", "Too many failed attempts. Wait before trying again.",
                      headers={"Retry-After": str(wait)})
    user = svc.accounts.user_by_username(body["username"])
    token = svc.store.get("password_resets", user["user_id"]) if user else None
    presented = token_hash(body["reset_token"])
    now = rfc3339(svc.clock.now())
    if (user is None or user.get("disabled") or token is None or token.data["expires_at"] < now
            or not hmac.compare_digest(token.data["token_hash"], presented)):
        svc.throttle.failed(key, address)
        raise Problem(400, "invalid-reset-token", "This reset token is not valid (used, replaced or expired).")
    actor = svc.accounts.actor_for(user)
    payload = {"token_hash": presented, "password_hash": _new_password(body["new_password"], user["username"])}
    svc.write_path.apply_one(actor, Mutation(str(uuid.uuid4()), "admin.redeem_reset", None, payload))
    svc.throttle.succeeded(key, address)
    return {"changed": True}
