"""Users, partnerships, agencies, devices and login sessions, kept in the store.

Collections: ``partnerships``, ``agencies``, ``users`` (by user id), ``usernames``
(a uniqueness index: the store's ``insert`` refuses a duplicate atomically),
``devices`` (by client device id, bound to the first user who logs in on it) and
``sessions`` (one per login; holds the current refresh token id for rotation).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from server.admin.handlers import write_directory
from server.auth.passwords import hash_password, password_problems, verify_password
from server.problems import Problem
from server.push.subscriptions import remove_device_subscriptions
from store import DuplicateKey, Store
from sync.actor import OPERATOR_REF, SYSTEM_REF, Actor, actor_ref
from sync.clock import Clock, rfc3339

ROLES = frozenset({
    "practitioner", "agency_safeguarding_lead", "business_team", "crg_member", "statutory_lead",
    "la_head_of_safeguarding", "independent_scrutineer", "lead_reviewer", "admin",
})
SECTORS = frozenset({"local_authority", "health", "police", "education", "other"})
#: separation of duties: an administrator manages accounts and devices, never case work
ADMIN_ONLY = frozenset({"admin"})
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
DEVICE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def role_problems(roles: Iterable[str]) -> list[str]:
    """Why a set of roles cannot be given to one account (empty when it can). Use it wherever roles
    are set: admin combines with no case role (separation of duties)."""
    roles = set(roles)
    if not roles or not roles <= ROLES:
        return [f"roles must be some of: {', '.join(sorted(ROLES))}"]
    if roles & ADMIN_ONLY and roles - ADMIN_ONLY:
        return ["admin cannot be combined with case roles (separation of duties): use two accounts"]
    return []


def username_problems(username: str) -> list[str]:
    if not isinstance(username, str) or not _ID.match(username):
        return ["username must be 2-63 lower-case letters, digits, '.', '_' or '-'"]
    return []


@dataclass(frozen=True)
class Session:
    session_id: str
    user_id: str
    device_id: str
    refresh_jti: str


DEVICE_INDEX = "user_devices"  # user id -> {"active": [device ids with a live login]}


class Accounts:
    def __init__(self, store: Store, clock: Clock, *, refresh_grace_seconds: float = 10.0,
                 max_devices_per_user: int = 10):
        self.store = store
        self.clock = clock
        self.refresh_grace_seconds = refresh_grace_seconds
        self.max_devices_per_user = max_devices_per_user

    # -- reference data -------------------------------------------------
    def add_partnership(self, partnership_id: str, name: str, reference_prefix: str | None = None) -> bool:
        """``reference_prefix`` starts case references (``ESX-2026-0001``); initials by default."""
        prefix = reference_prefix or "".join(w[0] for w in partnership_id.split("-")).upper()
        return self._insert_if_missing("partnerships", partnership_id,
                                       {"id": partnership_id, "name": name, "reference_prefix": prefix})

    def add_agency(self, agency_id: str, partnership: str, sector: str, name: str) -> bool:
        if sector not in SECTORS:
            raise ValueError(f"unknown sector {sector}")
        if self.store.get("partnerships", partnership) is None:
            raise ValueError(f"unknown partnership {partnership}")
        return self._insert_if_missing(
            "agencies", agency_id,
            {"id": agency_id, "partnership": partnership, "sector": sector, "name": name, "active": True},
            publish=True)  # agencies are in the pull feed (pickers' look-ups)

    def agency(self, agency_id: str) -> dict | None:
        doc = self.store.get("agencies", agency_id)
        return doc.data if doc else None

    def _insert_if_missing(self, collection: str, doc_id: str, data: dict, publish: bool = False) -> bool:
        if not _ID.match(doc_id):
            raise ValueError(f"invalid id {doc_id!r}")
        try:
            with self.store.transaction() as uow:
                uow.insert(collection, doc_id, data, publish=publish)
                uow.audit({"action": f"{collection}.create", "id": doc_id, "by": OPERATOR_REF})
        except DuplicateKey:
            return False
        return True

    # -- users ------------------------------------------------------------
    def add_user(
        self, username: str, password: str, partnership: str, roles: Iterable[str], agency: str | None = None
    ) -> dict:
        """Create an account (every path that creates one comes here: ``caseflow users add``,
        ``caseflow init``, the demo fixture). Raises ValueError naming every problem, never the password."""
        roles = sorted(set(roles))
        problems = []
        problems += username_problems(username)
        problems += password_problems(password, username)
        problems += role_problems(roles)
        if self.store.get("partnerships", partnership) is None:
            problems.append(f"unknown partnership {partnership}")
        if agency is not None:
            ag = self.agency(agency)
            if ag is None or ag["partnership"] != partnership:
                problems.append(f"unknown agency {agency} in partnership {partnership}")
        if problems:
            raise ValueError("; ".join(problems))
        user_id = uuid.uuid4().hex
        user = {
            "user_id": user_id, "username": username, "partnership": partnership, "agency": agency,
            "roles": roles, "password_hash": hash_password(password), "disabled": False,
            "created_at": rfc3339(self.clock.now()),
        }
        with self.store.transaction() as uow:
            uow.insert("usernames", username, {"user_id": user_id})  # DuplicateKey if taken
            uow.insert("users", user_id, user)
            write_directory(uow, user)
            uow.audit({"action": "user.create", "user_id": user_id, "by": OPERATOR_REF})
        return user

    def user_by_username(self, username: str) -> dict | None:
        idx = self.store.get("usernames", username)
        if idx is None:
            return None
        doc = self.store.get("users", idx.data["user_id"])
        return doc.data if doc else None

    def user(self, user_id: str) -> dict | None:
        doc = self.store.get("users", user_id)
        return doc.data if doc else None

    def list_users(self) -> list[dict]:
        return sorted((d.data for d in self.store.scan("users")), key=lambda u: u["username"])

    def set_disabled(self, username: str, disabled: bool = True) -> dict:
        idx = self.store.get("usernames", username)
        if idx is None:
            raise KeyError(username)
        with self.store.transaction() as uow:
            doc = uow.get("users", idx.data["user_id"])
            data = {**doc.data, "disabled": disabled}
            uow.update("users", doc.id, data, expected_version=doc.version)
            uow.audit({"action": "user.disable" if disabled else "user.enable", "user_id": doc.id, "by": OPERATOR_REF})
        return data

    def actor_for(self, user: dict, device_id: str | None = None, session_id: str | None = None) -> Actor:
        sector = None
        if user.get("agency"):
            ag = self.agency(user["agency"])
            sector = ag["sector"] if ag else None
        return Actor(
            user_id=user["user_id"], username=user["username"], partnership=user["partnership"],
            roles=frozenset(user["roles"]), agency=user.get("agency"), sector=sector,
            device_id=device_id, session_id=session_id,
        )

    def public_user(self, user: dict) -> dict:
        actor = self.actor_for(user)
        return {
            "user_id": user["user_id"], "username": user["username"], "partnership": user["partnership"],
            "agency": user.get("agency"), "sector": actor.sector, "roles": list(user["roles"]),
            "display_name": user.get("display_name") or user["username"],
            "password_change_required": bool(user.get("must_change_password")),
        }

    # -- login sessions and devices -------------------------------------------
    def authenticate(self, username: str, password: str) -> dict | None:
        user = self.user_by_username(username) if _ID.match(username or "") else None
        ok = verify_password(user["password_hash"] if user else None, password)
        if not ok or user is None or user["disabled"]:
            return None
        return user

    def open_session(self, user: dict, device_id: str) -> Session:
        now = rfc3339(self.clock.now())
        session = Session(uuid.uuid4().hex, user["user_id"], device_id, uuid.uuid4().hex)
        with self.store.transaction() as uow:
            device = uow.get("devices", device_id)
            if device is None:
                uow.insert("devices", device_id, {
                    "device_id": device_id, "user_id": user["user_id"], "revoked": False,
                    "registered_at": now, "revoked_at": None,
                })
            elif device.data["revoked"]:
                raise device_revoked()
            elif device.data["user_id"] != user["user_id"]:
                raise Problem(409, "device-in-use",
                              "This device is registered to another account. Wipe it or use a new device id.")
            self._activate_device(uow, user["user_id"], device_id)
            uow.insert("sessions", session.session_id, {
                "session_id": session.session_id, "user_id": user["user_id"], "device_id": device_id,
                "refresh_jti": session.refresh_jti, "revoked": False, "created_at": now, "rotated_at": now,
                "previous_jti": None, "rotated_ts": self.clock.now().timestamp(),
            })
            uow.audit({"action": "auth.login", "user_id": user["user_id"], "device_id": device_id,
                       "session_id": session.session_id,
                       "by": actor_ref(user["user_id"], tuple(user["roles"]), device_id)})
        return session

    def _activate_device(self, uow, user_id: str, device_id: str) -> None:  # noqa: ANN001 - a UnitOfWork
        """Count the device among the user's logged-in devices; refuse one past the cap."""
        index = uow.get(DEVICE_INDEX, user_id)
        active = list(index.data["active"]) if index else []
        if device_id in active:
            return
        if len(active) >= self.max_devices_per_user:
            raise Problem(409, "device-limit-reached",
                          f"This account is logged in on {len(active)} devices, the most allowed. Log out on one "
                          "of them, or ask an administrator to revoke a lost one.", limit=self.max_devices_per_user)
        data = {"active": [*active, device_id]}
        if index is None:
            uow.insert(DEVICE_INDEX, user_id, data)
        else:
            uow.update(DEVICE_INDEX, user_id, data, expected_version=index.version)

    @staticmethod
    def _deactivate_device(uow, user_id: str, device_id: str) -> None:  # noqa: ANN001 - a UnitOfWork
        index = uow.get(DEVICE_INDEX, user_id)
        if index is not None and device_id in index.data["active"]:
            uow.update(DEVICE_INDEX, user_id, {"active": [d for d in index.data["active"] if d != device_id]},
                       expected_version=index.version)

    def rotate_refresh(self, session_id: str, presented_jti: str) -> Session:
        """Rotate on use. A refresh token used twice means it was copied: end the session; except
        within ``refresh_grace_seconds`` of its rotation, when parallel refreshes of one client
        (several tabs, a retry after a lost answer) get the token that rotation issued."""
        with self.store.transaction() as uow:
            doc = uow.get("sessions", session_id)
            if doc is None or doc.data["revoked"]:
                raise token_revoked()
            since = self.clock.now().timestamp() - doc.data.get("rotated_ts", 0.0)
            if (doc.data["refresh_jti"] != presented_jti and doc.data.get("previous_jti") == presented_jti
                    and 0 <= since <= self.refresh_grace_seconds):
                return Session(session_id, doc.data["user_id"], doc.data["device_id"], doc.data["refresh_jti"])
            if doc.data["refresh_jti"] != presented_jti:
                uow.update("sessions", session_id, {**doc.data, "revoked": True}, expected_version=doc.version)
                uow.audit({"action": "auth.refresh_reuse", "session_id": session_id,
                           "user_id": doc.data["user_id"], "by": SYSTEM_REF})  # the server ends the session
                reuse = True
            else:
                new_jti = uuid.uuid4().hex
                uow.update("sessions", session_id, {
                    **doc.data, "refresh_jti": new_jti, "rotated_at": rfc3339(self.clock.now()),
                    "previous_jti": presented_jti, "rotated_ts": self.clock.now().timestamp(),
                }, expected_version=doc.version)
                reuse = False
        if reuse:
            raise Problem(401, "refresh-token-reused",
                          "This refresh token was already used; the session has been ended. Log in again.")
        return Session(session_id, doc.data["user_id"], doc.data["device_id"], new_jti)

    def end_session(self, session_id: str, actor_user_id: str) -> None:
        with self.store.transaction() as uow:
            doc = uow.get("sessions", session_id)
            if doc is None or doc.data["revoked"]:
                return
            uow.update("sessions", session_id, {**doc.data, "revoked": True}, expected_version=doc.version)
            remove_device_subscriptions(uow, doc.data["device_id"])  # no alerts to a logged-out device
            self._deactivate_device(uow, doc.data["user_id"], doc.data["device_id"])
            uow.audit({"action": "auth.logout", "session_id": session_id, "user_id": actor_user_id,
                       "device_id": doc.data["device_id"], "by": actor_ref(actor_user_id)})

    def revoke_device(self, device_id: str, by_user_id: str | None, partnership: str | None = None) -> dict:
        """Mark a device revoked; every token bound to it fails from its next request on."""
        with self.store.transaction() as uow:
            doc = uow.get("devices", device_id)
            if doc is None:
                raise KeyError(device_id)
            if partnership is not None:
                owner = uow.get("users", doc.data["user_id"])
                if owner is None or owner.data["partnership"] != partnership:
                    raise KeyError(device_id)  # another partnership's device: not found for this admin
            data = {**doc.data, "revoked": True, "revoked_at": doc.data["revoked_at"] or rfc3339(self.clock.now())}
            if not doc.data["revoked"]:
                uow.update("devices", device_id, data, expected_version=doc.version)
                remove_device_subscriptions(uow, device_id)
                self._deactivate_device(uow, doc.data["user_id"], device_id)
                uow.audit({"action": "device.revoke", "device_id": device_id, "by_user_id": by_user_id,
                           "by": actor_ref(by_user_id) if by_user_id else OPERATOR_REF})
        return data

    def check_session(self, session_id: str, device_id: str) -> dict:
        """The live user behind an access token, or a Problem (revoked, disabled, wiped)."""
        device = self.store.get("devices", device_id)
        if device is None:
            raise token_revoked()
        if device.data["revoked"]:
            raise device_revoked()
        session = self.store.get("sessions", session_id)
        if session is None or session.data["revoked"] or session.data["device_id"] != device_id:
            raise token_revoked()
        user = self.user(session.data["user_id"])
        if user is None or user["disabled"]:
            raise Problem(401, "account-disabled", "This account is disabled.")
        return user


def device_revoked() -> Problem:
    return Problem(
        403, "device-revoked",
        "This device has been revoked by an administrator. Delete all caseflow data stored on it.",
        title="Device revoked", action="wipe_local_data",
    )


def token_revoked() -> Problem:
    return Problem(401, "token-revoked", "This token has been revoked. Log in again.", title="Token revoked")
