"""Web Push subscriptions, one per device (collection ``push_subscriptions``).

A subscription is the browser's ``PushSubscription.toJSON()``: ``{endpoint, keys: {p256dh, auth}}``
(``expirationTime`` is accepted and ignored). ``push_devices/{device_id}`` points at the device's
current subscription, so a re-subscribe replaces the previous one in the same unit of work and two
racing subscribes of one device cannot both survive. Logout and device revocation call
:func:`remove_device_subscriptions` in their unit of work.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from server.problems import Problem
from server.push.addresses import Blocked, Unresolvable, checked_address, looks_numeric
from server.push.vapid import b64u_decode
from store import Store, UnitOfWork
from sync.actor import SYSTEM_REF, actor_ref

SUBSCRIPTIONS, DEVICES, USERS = "push_subscriptions", "push_devices", "push_users"  # push_users: the cap
MAX_ENDPOINT = 2048
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")


def _host_error(host: str, allowed_hosts: tuple[str, ...], port: int = 443) -> str | None:
    if not host:
        return "The endpoint has no host."
    error = _name_error(host, allowed_hosts)
    if error:
        return error
    try:
        checked_address(host, port)
    except Blocked as exc:
        return str(exc)
    except Unresolvable:
        # a numeric form must be an address; a DNS name that does not resolve now may be a passing
        # failure: it is resolved and checked again before every send, and the send is pinned to it
        if looks_numeric(host):
            return "The endpoint's host is not a valid public address."
    return None


def _name_error(host: str, allowed_hosts: tuple[str, ...]) -> str | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if not ip.is_global:
            return "The endpoint points at a private or loopback address; use your browser's push service."
    elif host.rstrip(".") == "localhost" or host.rstrip(".").endswith(PRIVATE_SUFFIXES) or "." not in host.rstrip("."):
        return "The endpoint is not a public push service host."
    name = host.rstrip(".")
    if allowed_hosts and not any(name == h or name.endswith("." + h) for h in allowed_hosts):
        return "This server accepts endpoints of its configured push services only."
    return None


def endpoint_error(endpoint: Any, *, allow_http_loopback: bool, allowed_hosts: tuple[str, ...] = ()) -> str | None:
    """Why ``endpoint`` is refused (a message that never repeats the value), or None."""
    if not isinstance(endpoint, str) or not endpoint:
        return "This field is required (the push service URL of the subscription)."
    if len(endpoint) > MAX_ENDPOINT:
        return f"The endpoint is longer than {MAX_ENDPOINT} characters."
    if any(ord(c) < 33 or ord(c) > 126 for c in endpoint):
        return "The endpoint must be a URL without spaces or control characters."
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "The endpoint is not a valid URL."
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "The endpoint must not carry credentials."
    if parts.fragment:
        return "The endpoint must not have a fragment."
    if allow_http_loopback and host in LOOPBACK_HOSTS and parts.scheme in ("http", "https"):
        return None  # tests only (CASEFLOW_PUSH_ALLOW_HTTP_LOOPBACK=1): the loopback fake push service
    if parts.scheme != "https":
        return "The endpoint must be an https URL."
    return _host_error(host, allowed_hosts, parts.port or 443)


def key_errors(keys: Any) -> list[dict[str, str]]:
    if not isinstance(keys, Mapping):
        return [{"path": "/keys", "message": "This field is required (an object with p256dh and auth)."}]
    errors = []
    try:
        raw = b64u_decode(keys.get("p256dh"))
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("length")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except (ValueError, TypeError):
        errors.append({"path": "/keys/p256dh", "message": "Must be the base64url uncompressed P-256 public key "
                                                          "(65 bytes) of the subscription."})
    try:
        if len(b64u_decode(keys.get("auth"))) != 16:
            raise ValueError("length")
    except (ValueError, TypeError):
        errors.append({"path": "/keys/auth",
                       "message": "Must be the base64url 16-byte auth secret of the subscription."})
    unknown = [k for k in keys if k not in ("p256dh", "auth")]
    errors += [{"path": f"/keys/{k}", "message": "Remove this field: it is not part of a subscription's keys."}
               for k in unknown]
    return errors


def validate_subscription(body: Any, *, allow_http_loopback: bool,
                          allowed_hosts: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Every problem of a subscribe body as ``[{path, message}]`` (empty when valid)."""
    if not isinstance(body, Mapping):
        return [{"path": "", "message": "Send an object {endpoint, keys: {p256dh, auth}}."}]
    errors = []
    err = endpoint_error(body.get("endpoint"), allow_http_loopback=allow_http_loopback, allowed_hosts=allowed_hosts)
    if err:
        errors.append({"path": "/endpoint", "message": err})
    errors += key_errors(body.get("keys"))
    exp = body.get("expirationTime")
    if exp is not None and (not isinstance(exp, int | float) or isinstance(exp, bool)):
        errors.append({"path": "/expirationTime", "message": "expirationTime is a number or null."})
    errors += [{"path": f"/{k}", "message": "Remove this field: it is not part of a subscription."}
               for k in body if k not in ("endpoint", "keys", "expirationTime")]
    return errors


def subscribe(store: Store, *, user_id: str, device_id: str, partnership: str, endpoint: str,
              keys: Mapping[str, str], at: str, max_per_user: int | None = None) -> tuple[dict[str, Any], bool]:
    """Store the device's subscription, replacing its previous one. Returns (subscription, created).
    Past ``max_per_user`` subscriptions of the user, a 409 problem (nothing is written)."""
    with store.transaction() as uow:
        index = uow.get(DEVICES, device_id)
        if index is not None:
            current = uow.get(SUBSCRIPTIONS, index.data["sub_id"])
            if (current is not None and current.data["endpoint"] == endpoint and current.data["keys"] == dict(keys)
                    and current.data["user_id"] == user_id):
                return current.data, False
        remove_device_subscriptions(uow, device_id)
        held = _user_index(uow, user_id)
        if max_per_user is not None and len(held) >= max_per_user:
            raise Problem(409, "push-subscription-limit",
                          f"You have {len(held)} push subscriptions, the most allowed. Unsubscribe one, or log out "
                          "on a device you no longer use.", limit=max_per_user)
        sub_id = uuid.uuid4().hex
        _set_user_index(uow, user_id, [*held, sub_id])
        sub = {"sub_id": sub_id, "user_id": user_id, "device_id": device_id, "partnership": partnership,
               "endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}, "created_at": at}
        uow.insert(SUBSCRIPTIONS, sub_id, sub)
        uow.insert(DEVICES, device_id, {"sub_id": sub_id})
        uow.audit({"action": "push.subscribe", "sub_id": sub_id, "user_id": user_id, "device_id": device_id,
                   "by": actor_ref(user_id, device_id=device_id)})
    return sub, True


def _user_index(uow: UnitOfWork, user_id: str) -> list[str]:
    doc = uow.get(USERS, user_id)
    return list(doc.data["sub_ids"]) if doc else []


def _set_user_index(uow: UnitOfWork, user_id: str, sub_ids: list[str]) -> None:
    doc = uow.get(USERS, user_id)
    if doc is None:
        uow.insert(USERS, user_id, {"sub_ids": sub_ids})
    else:
        uow.update(USERS, user_id, {"sub_ids": sub_ids}, expected_version=doc.version)


def unsubscribe(store: Store, sub_id: str, user_id: str) -> bool:
    """Delete the caller's own subscription; False when there is none with this id for them."""
    with store.transaction() as uow:
        doc = uow.get(SUBSCRIPTIONS, sub_id)
        if doc is None or doc.data["user_id"] != user_id:
            return False
        delete_subscription(uow, sub_id, reason="unsubscribe")
    return True


def delete_subscription(uow: UnitOfWork, sub_id: str, *, reason: str) -> bool:
    """Delete one subscription and its device index entry (inside the caller's unit of work)."""
    doc = uow.get(SUBSCRIPTIONS, sub_id)
    if doc is None:
        return False
    uow.delete(SUBSCRIPTIONS, sub_id, expected_version=doc.version)
    held = _user_index(uow, doc.data["user_id"])
    if sub_id in held:
        _set_user_index(uow, doc.data["user_id"], [s for s in held if s != sub_id])
    index = uow.get(DEVICES, doc.data["device_id"])
    if index is not None and index.data["sub_id"] == sub_id:
        uow.delete(DEVICES, doc.data["device_id"], expected_version=index.version)
    # the user unsubscribing; else the server cleaning up (a gone endpoint, or in the unit of work of a
    # logout, revocation or disabling whose own entry names who did it)
    by = actor_ref(doc.data["user_id"], device_id=doc.data["device_id"]) if reason == "unsubscribe" else SYSTEM_REF
    uow.audit({"action": "push.unsubscribe", "sub_id": sub_id, "user_id": doc.data["user_id"],
               "device_id": doc.data["device_id"], "reason": reason, "by": by})
    return True


def remove_device_subscriptions(uow: UnitOfWork, device_id: str) -> int:
    """Remove every subscription of a device: call it in the unit of work of a logout or a device
    revocation. Pending deliveries to it are dropped by the worker. Returns how many were removed."""
    index = uow.get(DEVICES, device_id)
    if index is None:
        return 0
    removed = int(delete_subscription(uow, index.data["sub_id"], reason="device"))
    index = uow.get(DEVICES, device_id)
    if index is not None:  # the index pointed at a subscription that was already gone
        uow.delete(DEVICES, device_id, expected_version=index.version)
    return removed


def remove_user_subscriptions(store: Store, user_id: str) -> int:
    """Remove every subscription of a user (e.g. when the account is disabled)."""
    ids = [d.id for d in store.scan(SUBSCRIPTIONS, lambda s: s["user_id"] == user_id)]
    removed = 0
    with store.transaction() as uow:
        for sub_id in ids:
            removed += delete_subscription(uow, sub_id, reason="user")
    return removed


def subscriptions_by_user(store: Store) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in store.scan(SUBSCRIPTIONS):
        out.setdefault(doc.data["user_id"], []).append(doc.data)
    return out
