"""/api/v1/admin/...: partnerships, agencies, users and devices, while the server runs.

Thin: parse, authorise (an admin of their own partnership, or the operator channel of the
``caseflow`` command), build a mutation, apply it on the one write path (server/admin/handlers.py).
Password and reset-token hashes are computed here, outside the write lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from flask import request
from flask_smorest import Blueprint

from server.admin.handlers import OPERATOR_ID, public
from server.admin.operator import admin_actor, confine, is_operator, operator_actor
from server.auth.accounts import role_problems, username_problems
from server.auth.passwords import hash_password, password_problems
from server.problems import Problem, invalid
from server.resources import admin_schemas as s
from server.resources.common import BEARER, ProblemSchema, services
from sync.clock import rfc3339
from sync.service import MUTATION_ID, Mutation

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin",
                description="Partnership administration: agencies, users, devices (admin role)")
RESET_TOKEN_HOURS = 72


def _problems(*codes: int):
    """Document the problem+json answers of an operation."""
    def decorate(fn):
        for code in codes:
            fn = blp.alt_response(code, schema=ProblemSchema, content_type="application/problem+json",
                                  description=f"problem+json ({code})")(fn)
        return fn
    return decorate


def _key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return str(uuid.uuid4())
    if not MUTATION_ID.match(key):
        raise Problem(422, "validation-error", "Idempotency-Key must be 8-64 letters, digits or '-'.",
                      errors=[{"path": "", "in": "header", "message": "Invalid Idempotency-Key."}])
    return key


def apply(actor, kind: str, payload: dict) -> dict:
    if not actor.partnership:
        raise Problem(422, "partnership-required", "Name the partnership (X-Caseflow-Partnership) for this change.")
    return services().write_path.apply_one(actor, Mutation(_key(), kind, None, payload))


def _password_errors(password: str, username: str, path: str) -> None:
    problems = password_problems(password, username)
    if problems:
        raise invalid([{"path": path, "message": p} for p in problems])


def _user(user_id: str) -> dict:
    doc = services().store.get("users", user_id)
    if doc is None:
        raise Problem(404, "user-not-found", "There is no user with this id in your partnership.")
    return doc.data


def _target_user(user_id: str):
    """(actor confined to the user's partnership, the user)."""
    actor = admin_actor()
    user = _user(user_id)
    try:
        return confine(actor, user["partnership"]), user
    except Problem:
        raise Problem(404, "user-not-found", "There is no user with this id in your partnership.") from None


# -- partnerships ---------------------------------------------------------------------------------
@blp.route("/partnerships", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, s.PartnershipOut(many=True))
@_problems(401, 403)
def list_partnerships():
    """Partnerships: an admin sees their own; the operator sees every one."""
    actor = admin_actor()
    docs = [d.data for d in services().store.scan("partnerships")]
    if not is_operator():
        docs = [p for p in docs if p["id"] == actor.partnership]
    return sorted(docs, key=lambda p: p["id"])


@blp.route("/partnerships", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(s.PartnershipIn)
@blp.response(200, s.PartnershipSaved)
@_problems(401, 403, 422)
def create_partnership(body):
    """Create a partnership (the operator only: ``caseflow init``); an existing one is left as it is."""
    actor = operator_actor(body["partnership_id"])
    result = apply(actor, "admin.create_partnership", body)
    return {"created": result["created"], "partnership": result["partnership"]}


@blp.route("/partnerships/<string:partnership_id>", methods=["PATCH"])
@blp.doc(security=BEARER)
@blp.arguments(s.PartnershipPatch)
@blp.response(200, s.PartnershipChanged)
@_problems(401, 403, 404, 422)
def update_partnership(body, partnership_id: str):
    """Rename a partnership: its own admin, or the operator (any partnership). Another partnership's
    admin is told it is not found; the id and reference prefix never change."""
    actor = admin_actor()
    if is_operator():
        actor = confine(actor, partnership_id)
    result = apply(actor, "admin.update_partnership", {**body, "partnership_id": partnership_id})
    return {"changed": result["changed"], "partnership": result["partnership"]}


# -- agencies ---------------------------------------------------------------------------------------
@blp.route("/agencies", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, s.AgencyList)
@_problems(401, 403, 422)
def list_agencies():
    """The agencies of the admin's partnership, inactive ones included."""
    actor = admin_actor()
    agencies = services().store.scan("agencies", lambda a: a["partnership"] == actor.partnership)
    return {"agencies": sorted(({"active": True, **d.data} for d in agencies), key=lambda a: a["id"])}


@blp.route("/agencies", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(s.AgencyIn)
@blp.response(201, s.AgencyOut)
@_problems(401, 403, 409, 422)
def create_agency(body):
    """Add an agency to the admin's partnership."""
    result = apply(admin_actor(), "admin.save_agency", {**body, "create": True})
    return result["agency"]


@blp.route("/agencies/<string:agency_id>", methods=["PATCH"])
@blp.doc(security=BEARER)
@blp.arguments(s.AgencyPatch)
@blp.response(200, s.AgencyOut)
@_problems(401, 403, 404, 422)
def update_agency(body, agency_id: str):
    """Rename an agency, change its sector, or make it inactive (no longer offered in pickers)."""
    actor = admin_actor()
    doc = services().store.get("agencies", agency_id)
    if is_operator():
        if doc is None:  # the operator names no partnership: nothing to confine it to
            raise Problem(404, "agency-not-found", "There is no agency with this id.")
        actor = confine(actor, doc.data["partnership"])
    return apply(actor, "admin.save_agency", {**body, "agency_id": agency_id})["agency"]


# -- users ------------------------------------------------------------------------------------------
@blp.route("/users", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(s.UserQuery, location="query")
@blp.response(200, s.UserList)
@_problems(401, 403, 422)
def list_users(query):
    """The users of the admin's partnership, with their ids (the operator: every partnership, or the one
    named in X-Caseflow-Partnership)."""
    actor = admin_actor()
    def wanted(u: dict) -> bool:
        if actor.partnership and u["partnership"] != actor.partnership:
            return False
        return "username" not in query or u["username"] == query["username"]
    users = [public(d.data) for d in services().store.scan("users", wanted)]
    return {"users": sorted(users, key=lambda u: (u["partnership"], u["username"]))}


@blp.route("/users", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(s.UserIn)
@blp.response(201, s.UserOut)
@_problems(401, 403, 409, 422)
def create_user(body):
    """Create a user in the admin's partnership (``must_change_password`` makes the password temporary)."""
    actor = admin_actor()
    errors = [{"path": "/username", "message": p} for p in username_problems(body["username"])]
    errors += [{"path": "/password", "message": p} for p in password_problems(body["password"], body["username"])]
    errors += [{"path": "/roles", "message": p} for p in role_problems(body["roles"])]
    if services().store.get("partnerships", actor.partnership or "-") is None:
        errors.append({"path": "", "in": "header", "message": f"unknown partnership {actor.partnership}"})
    if errors:
        raise invalid(errors)
    payload = {k: body[k] for k in ("username", "roles", "agency", "must_change_password") if k in body}
    payload["display_name"] = body.get("display_name")
    payload["password_hash"] = hash_password(body["password"])
    return apply(actor, "admin.create_user", payload)["user"]


@blp.route("/users/<string:user_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, s.UserOut)
@_problems(401, 403, 404)
def show_user(user_id: str):
    """One user of the admin's partnership."""
    return public(_target_user(user_id)[1])


@blp.route("/users/<string:user_id>", methods=["PATCH"])
@blp.doc(security=BEARER)
@blp.arguments(s.UserPatch)
@blp.response(200, s.UserChanged)
@_problems(401, 403, 404, 409, 422)
def update_user(body, user_id: str):
    """Change roles, agency or display name. The last active admin keeps the admin role."""
    actor, _ = _target_user(user_id)
    if "roles" in body:
        problems = role_problems(body["roles"])
        if problems:
            raise invalid([{"path": "/roles", "message": p} for p in problems])
    result = apply(actor, "admin.update_user", {**body, "user_id": user_id})
    return {"changed": result["changed"], "user": result["user"]}


def _set_disabled(user_id: str, disabled: bool) -> dict:
    actor, _ = _target_user(user_id)
    result = apply(actor, "admin.set_disabled", {"user_id": user_id, "disabled": disabled})
    return {"changed": result["changed"], "user": result["user"]}


@blp.route("/users/<string:user_id>/disable", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, s.UserChanged)
@_problems(401, 403, 404, 409)
def disable_user(user_id: str):
    """Disable an account: its tokens fail from the next request. The last active admin cannot be disabled."""
    return _set_disabled(user_id, True)


@blp.route("/users/<string:user_id>/enable", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, s.UserChanged)
@_problems(401, 403, 404)
def enable_user(user_id: str):
    """Enable a disabled account."""
    return _set_disabled(user_id, False)


@blp.route("/users/<string:user_id>/password", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(s.TemporaryPasswordIn)
@blp.response(200, s.UserOut)
@_problems(401, 403, 404, 422)
def set_temporary_password(body, user_id: str):
    """Set a temporary password: the user must change it at the next login; their sessions end."""
    actor, user = _target_user(user_id)
    if actor.user_id == user_id:
        raise Problem(409, "own-password", "Change your own password with POST /api/v1/auth/password.")
    _password_errors(body["temporary_password"], user["username"], "/temporary_password")
    payload = {"user_id": user_id, "password_hash": hash_password(body["temporary_password"]), "temporary": True}
    return apply(actor, "admin.set_password", payload)["user"]


@blp.route("/users/<string:user_id>/reset-token", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(201, s.ResetTokenOut)
@_problems(401, 403, 404)
def issue_reset_token(user_id: str):
    """A one-time password reset token (shown once, valid 72 hours, replaces any earlier one). The user
    redeems it with POST /api/v1/auth/password-reset."""
    actor, _ = _target_user(user_id)
    token = secrets.token_urlsafe(24)
    expires = services().clock.now() + dt.timedelta(hours=RESET_TOKEN_HOURS)
    payload = {"user_id": user_id, "token_hash": token_hash(token), "expires_at": rfc3339(expires)}
    result = apply(actor, "admin.issue_reset", payload)
    return {"user_id": user_id, "reset_token": token, "expires_at": result["expires_at"]}


def token_hash(token: str) -> str:
    return hashlib.sha256(b"caseflow-reset:" + token.encode()).hexdigest()


# -- devices --------------------------------------------------------------------------------------
@blp.route("/users/<string:user_id>/devices", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, s.DeviceList)
@_problems(401, 403, 404)
def list_devices(user_id: str):
    """A user's devices with when each was last seen (last login or token refresh)."""
    _target_user(user_id)
    store = services().store
    last: dict[str, str] = {}
    for sess in store.scan("sessions", lambda d: d["user_id"] == user_id):
        seen = max(sess.data.get("rotated_at") or "", sess.data.get("created_at") or "")
        last[sess.data["device_id"]] = max(last.get(sess.data["device_id"], ""), seen)
    devices = [{**d.data, "last_seen": last.get(d.id) or None}
               for d in store.scan("devices", lambda d: d["user_id"] == user_id)]
    return {"devices": sorted(devices, key=lambda d: d["last_seen"] or "", reverse=True)}


@blp.route("/devices/<string:device_id>/revoke", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, s.RevokedOut)
@_problems(401, 403, 404)
def revoke_device(device_id: str):
    """Revoke a device: its next request is refused and it is told to wipe its local data."""
    actor = admin_actor()
    if is_operator():
        doc = services().store.get("devices", device_id)
        owner = services().store.get("users", doc.data["user_id"]) if doc else None
        if owner is None:
            raise Problem(404, "device-not-found", "No such device in your partnership.")
        actor = confine(actor, owner.data["partnership"])
    return apply(actor, "admin.revoke_device", {"device_id": device_id})


__all__ = ["OPERATOR_ID", "blp", "token_hash"]
