"""Administration as mutations: partnerships, agencies, users, passwords and devices.

Each handler runs inside ``sync.service.WritePath.apply_one`` like a case command: in one unit of work with
its idempotency key and its audit entry (``by`` names the admin, or the ``operator`` system actor
of the CLI). These kinds are online-only: the app gives ``ADMIN_HANDLERS`` to its WritePath as extra
handlers, which ``apply_one`` runs and a sync push never accepts.

Every handler is confined to the actor's partnership: a target of another partnership is "not
found". Password hashes and reset-token hashes are computed by the caller, outside the write lock
(Argon2 is deliberately slow); they are never part of a result, so the stored idempotent result
holds neither.

Users are mirrored into the published ``directory`` collection (id, display name, roles, agency,
active) so the pull feed can carry pickers' look-ups without ever publishing a ``users`` document.
Agencies are published themselves.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from server.push.subscriptions import remove_device_subscriptions
from store import DuplicateKey, UnitOfWork, VersionConflict
from sync.context import Ctx
from sync.problems import Problem

Result = dict[str, Any]
DIRECTORY, AGENCIES, USERS, USERNAMES, DEVICES = "directory", "agencies", "users", "usernames", "devices"
PARTNERSHIPS, SESSIONS, RESET_TOKENS = "partnerships", "sessions", "password_resets"
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
SECTORS = ("local_authority", "health", "police", "education", "other")
OPERATOR_ID = "operator"


def directory_entry(user: Mapping[str, Any]) -> dict[str, Any]:
    """What pickers may know of a colleague: no username, no password state, no login history."""
    return {"user_id": user["user_id"], "partnership": user["partnership"],
            "display_name": user.get("display_name") or user["username"], "roles": list(user["roles"]),
            "agency": user.get("agency"), "active": not user.get("disabled")}


def write_directory(uow: UnitOfWork, user: Mapping[str, Any]) -> None:
    entry = directory_entry(user)
    doc = uow.get(DIRECTORY, user["user_id"])
    if doc is None:
        uow.insert(DIRECTORY, user["user_id"], entry, publish=True)
    elif doc.data != entry:
        uow.update(DIRECTORY, user["user_id"], entry, expected_version=doc.version, publish=True)


def _invalid(path: str, message: str, slug: str = "validation-error", status: int = 422) -> Problem:
    return Problem(status, slug, message, title="Your request has invalid fields",
                   errors=[{"path": path, "message": message}])


def _own_user(ctx: Ctx, user_id: Any):
    doc = ctx.uow.get(USERS, user_id) if isinstance(user_id, str) else None
    if doc is None or doc.data["partnership"] != ctx.actor.partnership:
        raise Problem(404, "user-not-found", "There is no user with this id in your partnership.")
    return doc


def _check_agency(ctx: Ctx, agency: Any, path: str = "/agency") -> None:
    if agency is None:
        return
    doc = ctx.uow.get(AGENCIES, agency) if isinstance(agency, str) else None
    if doc is None or doc.data["partnership"] != ctx.actor.partnership:
        raise _invalid(path, "Not an agency of this partnership.", "unknown-agency")
    if not doc.data.get("active", True):
        raise _invalid(path, "This agency is inactive.", "inactive-agency")


def _active_admins(ctx: Ctx, except_user: str) -> int:
    """Active admins of the actor's partnership other than ``except_user`` (units of work are
    serialised, so the committed state is the current state apart from this unit's target)."""
    return sum(1 for u in ctx.directory.active_users(ctx.actor.partnership)
               if "admin" in u["roles"] and u["user_id"] != except_user)


def _keep_an_admin(ctx: Ctx, user: Mapping[str, Any], loses_admin: bool) -> None:
    if loses_admin and "admin" in user["roles"] and not user.get("disabled") and _active_admins(
            ctx, user["user_id"]) == 0:
        raise Problem(409, "last-admin", "This is the last active admin of the partnership: make another "
                                         "user an admin first.")


def _save_user(ctx: Ctx, doc, data: dict[str, Any], action: str, **what: Any) -> dict[str, Any]:
    ctx.uow.update(USERS, doc.id, data, expected_version=doc.version)
    write_directory(ctx.uow, data)
    ctx.audit(action, None, user_id=doc.id, **what)
    return data


def public(user: Mapping[str, Any]) -> dict[str, Any]:
    """An admin's view of a user (never the password hash or reset state)."""
    keys = ("user_id", "username", "display_name", "partnership", "agency", "roles", "disabled",
            "must_change_password", "created_at")
    out = {k: user.get(k) for k in keys}
    out["display_name"] = out["display_name"] or user["username"]
    out["must_change_password"] = bool(out["must_change_password"])
    return out


# -- partnerships and agencies -------------------------------------------------------------------
def create_partnership(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    if ctx.actor.user_id != OPERATOR_ID:
        raise Problem(403, "forbidden-role", "Only the operator (the caseflow command) creates partnerships.")
    pid, name = payload["partnership_id"], payload["name"]
    existing = ctx.uow.get(PARTNERSHIPS, pid)
    if existing is not None:
        return {"status": "applied", "created": False, "partnership": existing.data}
    prefix = payload.get("reference_prefix") or "".join(w[0] for w in re.split(r"[-_.]", pid) if w).upper()
    data = {"id": pid, "name": name, "reference_prefix": prefix}
    ctx.uow.insert(PARTNERSHIPS, pid, data)
    ctx.audit("partnership.create", None, partnership_id=pid)
    return {"status": "applied", "created": True, "partnership": data}


def update_partnership(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    """Rename the actor's own partnership (an admin of it, or the operator confined to it). The id and
    the reference prefix stay: they are in every case reference and in other partnerships' links."""
    pid = payload["partnership_id"]
    doc = ctx.uow.get(PARTNERSHIPS, pid) if isinstance(pid, str) else None
    if doc is None or pid != ctx.actor.partnership:
        raise Problem(404, "partnership-not-found", "There is no partnership with this id that you administer.")
    data = {**doc.data, "name": payload["name"]}
    if data == doc.data:
        return {"status": "applied", "changed": False, "partnership": doc.data}
    ctx.uow.update(PARTNERSHIPS, pid, data, expected_version=doc.version)
    ctx.audit("partnership.update", None, partnership_id=pid, fields=["name"])
    return {"status": "applied", "changed": True, "partnership": data}


def save_agency(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    """Create an agency of the actor's partnership, or change its name, sector or active flag."""
    agency_id = payload["agency_id"]
    doc = ctx.uow.get(AGENCIES, agency_id)
    if doc is None:
        if payload.get("create") is not True:
            raise Problem(404, "agency-not-found", "There is no agency with this id in your partnership.")
        if not _ID.match(agency_id):
            raise _invalid("/agency_id", "Use 2-63 lower-case letters, digits, '.', '_' or '-'.")
        data = {"id": agency_id, "partnership": ctx.actor.partnership, "sector": payload["sector"],
                "name": payload["name"], "active": payload.get("active", True)}
        try:
            ctx.uow.insert(AGENCIES, agency_id, data, publish=True)
        except DuplicateKey:  # pragma: no cover - checked above in the same unit of work
            raise Problem(409, "agency-id-taken", "An agency with this id already exists.") from None
        ctx.audit("agency.create", None, agency_id=agency_id)
        return {"status": "applied", "created": True, "agency": data}
    if doc.data["partnership"] != ctx.actor.partnership:
        if payload.get("create") is True:
            raise Problem(409, "agency-id-taken", "An agency with this id already exists.")
        raise Problem(404, "agency-not-found", "There is no agency with this id in your partnership.")
    if payload.get("create") is True:
        raise Problem(409, "agency-id-taken", "An agency with this id already exists.")
    data = {**doc.data, **{k: payload[k] for k in ("name", "sector", "active") if k in payload}}
    data.setdefault("active", True)
    if data != doc.data:
        ctx.uow.update(AGENCIES, agency_id, data, expected_version=doc.version, publish=True)
        ctx.audit("agency.update", None, agency_id=agency_id,
                  fields=sorted(k for k in ("name", "sector", "active") if k in payload))
    return {"status": "applied", "created": False, "agency": data}


# -- users ----------------------------------------------------------------------------------------
def create_user(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    _check_agency(ctx, payload.get("agency"))
    user_id = uuid.uuid4().hex
    user = {
        "user_id": user_id, "username": payload["username"], "display_name": payload.get("display_name"),
        "partnership": ctx.actor.partnership, "agency": payload.get("agency"), "roles": sorted(payload["roles"]),
        "password_hash": payload["password_hash"], "disabled": False,
        "must_change_password": bool(payload.get("must_change_password")), "created_at": ctx.at,
    }
    try:
        ctx.uow.insert(USERNAMES, user["username"], {"user_id": user_id})
    except DuplicateKey:
        raise _invalid("/username", "This username is taken.", "username-taken", 409) from None
    ctx.uow.insert(USERS, user_id, user)
    write_directory(ctx.uow, user)
    ctx.audit("user.create", None, user_id=user_id, roles=user["roles"], agency=user["agency"])
    return {"status": "applied", "user": public(user)}


def update_user(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    """Roles, agency and display name (only the keys present change)."""
    doc = _own_user(ctx, payload["user_id"])
    user = doc.data
    if "agency" in payload:
        _check_agency(ctx, payload["agency"])
    changes = {k: payload[k] for k in ("roles", "agency", "display_name") if k in payload}
    if "roles" in changes:
        changes["roles"] = sorted(set(changes["roles"]))
        _keep_an_admin(ctx, user, "admin" not in changes["roles"])
    data = {**user, **changes}
    if data == user:
        return {"status": "applied", "changed": False, "user": public(user)}
    _save_user(ctx, doc, data, "user.update", fields=sorted(changes), roles=data["roles"], agency=data["agency"])
    return {"status": "applied", "changed": True, "user": public(data)}


def set_disabled(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    doc = _own_user(ctx, payload["user_id"])
    disabled = payload["disabled"] is True
    if disabled and doc.id == ctx.actor.user_id:
        raise Problem(409, "cannot-disable-self", "You cannot disable your own account.")
    if disabled:
        _keep_an_admin(ctx, doc.data, True)
    if bool(doc.data.get("disabled")) == disabled:
        return {"status": "applied", "changed": False, "user": public(doc.data)}
    data = _save_user(ctx, doc, {**doc.data, "disabled": disabled}, "user.disable" if disabled else "user.enable")
    return {"status": "applied", "changed": True, "user": public(data)}


def set_password(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    """An admin's temporary password (to be changed at next login) or the user's own new password.
    Either way a pending reset token is spent and the user's other sessions end."""
    own = payload["user_id"] == ctx.actor.user_id
    doc = ctx.uow.get(USERS, payload["user_id"]) if own else _own_user(ctx, payload["user_id"])
    if doc is None:  # pragma: no cover - the actor's own account exists
        raise Problem(404, "user-not-found", "There is no such user.")
    data = {**doc.data, "password_hash": payload["password_hash"],
            "must_change_password": not own and payload.get("temporary", True)}
    ctx.uow.update(USERS, doc.id, data, expected_version=doc.version)
    _spend_reset(ctx.uow, doc.id)
    ended = _end_sessions(ctx, doc.id, keep=ctx.actor.session_id if own else None)
    ctx.audit("user.password_change" if own else "user.password_set", None, user_id=doc.id,
              temporary=data["must_change_password"], sessions_ended=ended)
    return {"status": "applied", "user": public(data)}


def issue_reset(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    """A one-time reset token (its hash is stored; the admin hands the token over out of band)."""
    doc = _own_user(ctx, payload["user_id"])
    _spend_reset(ctx.uow, doc.id)
    ctx.uow.insert(RESET_TOKENS, doc.id, {"user_id": doc.id, "token_hash": payload["token_hash"],
                                          "expires_at": payload["expires_at"], "issued_at": ctx.at})
    ctx.audit("user.password_reset_issued", None, user_id=doc.id, expires_at=payload["expires_at"])
    return {"status": "applied", "user_id": doc.id, "expires_at": payload["expires_at"]}


def redeem_reset(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    """The user sets a new password with their one-time token (the actor is that user; the
    caller has checked the token against its hash and expiry)."""
    doc = ctx.uow.get(USERS, ctx.actor.user_id)
    token = ctx.uow.get(RESET_TOKENS, ctx.actor.user_id)
    if doc is None or token is None or token.data["token_hash"] != payload["token_hash"]:
        raise Problem(400, "invalid-reset-token", "This reset token is not valid (used, replaced or expired).")
    data = {**doc.data, "password_hash": payload["password_hash"], "must_change_password": False}
    ctx.uow.update(USERS, doc.id, data, expected_version=doc.version)
    _spend_reset(ctx.uow, doc.id)
    ended = _end_sessions(ctx, doc.id, keep=None)
    ctx.audit("user.password_reset", None, user_id=doc.id, sessions_ended=ended)
    return {"status": "applied", "user_id": doc.id}


def _spend_reset(uow: UnitOfWork, user_id: str) -> None:
    token = uow.get(RESET_TOKENS, user_id)
    if token is not None:
        uow.delete(RESET_TOKENS, user_id, expected_version=token.version)


def _end_sessions(ctx: Ctx, user_id: str, keep: str | None) -> int:
    """Revoke the user's live sessions (a changed password logs out every other device)."""
    ended = 0
    for s in ctx.directory.store.scan(SESSIONS, lambda d: d["user_id"] == user_id and not d["revoked"]):
        if s.id == keep:
            continue
        cur = ctx.uow.get(SESSIONS, s.id)
        if cur is not None and not cur.data["revoked"]:
            ctx.uow.update(SESSIONS, s.id, {**cur.data, "revoked": True}, expected_version=cur.version)
            _release_device(ctx.uow, user_id, cur.data["device_id"])
            ended += 1
    return ended


def _release_device(uow: UnitOfWork, user_id: str, device_id: str) -> None:
    """The device no longer counts towards the user's logged-in devices (the accounts' device cap)."""
    from server.auth.accounts import Accounts  # accounts imports this module (the directory mirror)

    Accounts._deactivate_device(uow, user_id, device_id)


# -- devices ----------------------------------------------------------------------------------------
def revoke_device(ctx: Ctx, _case: str | None, payload: Mapping[str, Any], _base: int | None) -> Result:
    device_id = payload["device_id"]
    doc = ctx.uow.get(DEVICES, device_id) if isinstance(device_id, str) else None
    owner = ctx.uow.get(USERS, doc.data["user_id"]) if doc is not None else None
    if doc is None or owner is None or owner.data["partnership"] != ctx.actor.partnership:
        raise Problem(404, "device-not-found", "No such device in your partnership.")
    data = {**doc.data, "revoked": True, "revoked_at": doc.data.get("revoked_at") or ctx.at}
    if not doc.data["revoked"]:
        ctx.uow.update(DEVICES, device_id, data, expected_version=doc.version)
        remove_device_subscriptions(ctx.uow, device_id)
        _release_device(ctx.uow, owner.id, device_id)
        ctx.audit("device.revoke", None, device_id=device_id, user_id=owner.id)
    return {"status": "applied", "device_id": device_id, "revoked": True, "revoked_at": data["revoked_at"]}


ADMIN_HANDLERS: dict[str, Callable[[Ctx, str | None, Mapping[str, Any], int | None], Result]] = {
    "admin.create_partnership": create_partnership,
    "admin.update_partnership": update_partnership,
    "admin.save_agency": save_agency,
    "admin.create_user": create_user,
    "admin.update_user": update_user,
    "admin.set_disabled": set_disabled,
    "admin.set_password": set_password,
    "admin.issue_reset": issue_reset,
    "admin.redeem_reset": redeem_reset,
    "admin.revoke_device": revoke_device,
}


def backfill_lookups(store: Any) -> int:
    """Data written before the look-ups existed: give every user their ``directory`` entry and publish
    every agency (``active`` set), so pickers and the pull feed see them. Run at start; idempotent (a
    second run finds nothing to do and writes nothing). Returns how many documents it wrote."""
    users = [d.data for d in store.scan(USERS) if store.get(DIRECTORY, d.id) is None]
    agencies = [d for d in store.scan(AGENCIES) if "active" not in d.data]
    if not users and not agencies:
        return 0
    try:
        return _backfill(store, users, agencies)
    except (DuplicateKey, VersionConflict):  # another process of this installation did it first
        return 0


def _backfill(store: Any, users: list, agencies: list) -> int:
    with store.transaction() as uow:
        for user in users:
            write_directory(uow, user)
        for doc in agencies:
            uow.update(AGENCIES, doc.id, {**doc.data, "active": True}, expected_version=doc.version, publish=True)
        uow.audit({"action": "lookups.backfill", "users": len(users), "agencies": len(agencies),
                   "by": {"user_id": "system", "roles": []}})
    return len(users) + len(agencies)
