"""Subscription validation and lifecycle (store level; the HTTP tests are in test_http.py)."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server.push.subscriptions import (
    DEVICES,
    SUBSCRIPTIONS,
    remove_device_subscriptions,
    remove_user_subscriptions,
    subscribe,
    unsubscribe,
    validate_subscription,
)
from server.push.vapid import b64u, b64u_decode, key_path, load_or_create_vapid
from tests.push.helpers import add_user
from tests.push.pushservice import X962, Browser

KEYS = Browser().keys()


def _errors(body, loopback=False, hosts=()):
    return {e["path"]: e["message"] for e in validate_subscription(body, allow_http_loopback=loopback,
                                                                   allowed_hosts=hosts)}


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com/fcm/send/abc:def",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
    "https://web.push.apple.com/QGuQyavXutnMH",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
])
def test_real_push_service_endpoints_are_accepted(endpoint):
    assert _errors({"endpoint": endpoint, "keys": KEYS, "expirationTime": None}) == {}


@pytest.mark.parametrize("endpoint", [
    "http://fcm.googleapis.com/fcm/send/abc",  # plain http
    "http://127.0.0.1:8080/push/1",  # loopback without the test flag
    "https://127.0.0.1/push",  # loopback / private addresses (SSRF)
    "https://10.0.0.5/push",
    "https://[::1]/push",
    "https://169.254.169.254/latest/meta-data",
    "https://localhost/push",
    "https://printer.local/push",
    "https://intranet/push",
    "https://user:pw@fcm.googleapis.com/x",
    "ftp://fcm.googleapis.com/x",
    "https://fcm.googleapis.com/x#frag",
    "https://fcm.googleapis.com/a b",
    "https://fcm.googleapis.com:99999/x",
    "https://" + "a" * 2100 + ".com/",
    "",
    None,
    42,
])
def test_bad_endpoints_are_refused_without_echoing_the_value(endpoint):
    errors = _errors({"endpoint": endpoint, "keys": KEYS})
    assert list(errors) == ["/endpoint"]
    if isinstance(endpoint, str) and endpoint:
        assert endpoint not in errors["/endpoint"]


def test_loopback_http_only_with_the_test_flag():
    body = {"endpoint": "http://127.0.0.1:8123/push/abc", "keys": KEYS}
    assert _errors(body, loopback=True) == {}
    assert _errors({**body, "endpoint": "http://localhost:8123/p"}, loopback=True) == {}
    assert "/endpoint" in _errors(body, loopback=False)
    assert "/endpoint" in _errors({**body, "endpoint": "http://10.1.2.3:80/p"}, loopback=True)


def test_host_allowlist():
    body = {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": KEYS}
    assert _errors(body, hosts=("googleapis.com",)) == {}
    assert "/endpoint" in _errors({**body, "endpoint": "https://push.evil.example/x"}, hosts=("googleapis.com",))


def test_keys_must_be_a_p256_point_and_a_16_byte_secret():
    not_on_curve = b64u(b"\x04" + b"\x01" * 64)
    compressed = b64u(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint))
    p384 = b64u(ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(*X962))
    for bad in (not_on_curve, compressed, p384, "not base64!", "", None, 7):
        assert "/keys/p256dh" in _errors({"endpoint": "https://fcm.googleapis.com/x", "keys": {**KEYS, "p256dh": bad}})
    for bad in (b64u(os.urandom(15)), b64u(os.urandom(32)), "***", None):
        assert "/keys/auth" in _errors({"endpoint": "https://fcm.googleapis.com/x", "keys": {**KEYS, "auth": bad}})
    assert set(_errors({"endpoint": "https://fcm.googleapis.com/x"})) == {"/keys"}
    assert set(_errors({"endpoint": "https://fcm.googleapis.com/x", "keys": KEYS, "extra": 1})) == {"/extra"}
    assert set(_errors([])) == {""}


def test_padded_base64url_is_accepted():
    padded = {k: v + "=" * (-len(v) % 4) for k, v in KEYS.items()}
    assert _errors({"endpoint": "https://fcm.googleapis.com/x", "keys": padded}) == {}
    with pytest.raises(ValueError):
        b64u_decode("a+b/")


def test_resubscribe_replaces_and_logout_hook_removes(services):
    user = add_user(services, "user.a")
    common = dict(user_id=user["user_id"], device_id="device-0001", partnership="east-sussex", at="t")
    first, created = subscribe(services.store, endpoint="https://fcm.googleapis.com/1", keys=KEYS, **common)
    assert created
    same, created = subscribe(services.store, endpoint="https://fcm.googleapis.com/1", keys=KEYS, **common)
    assert not created and same["sub_id"] == first["sub_id"]
    second, created = subscribe(services.store, endpoint="https://fcm.googleapis.com/2", keys=KEYS, **common)
    assert created and second["sub_id"] != first["sub_id"]
    assert [d.id for d in services.store.scan(SUBSCRIPTIONS)] == [second["sub_id"]]
    other, _ = subscribe(services.store, endpoint="https://fcm.googleapis.com/3", keys=KEYS,
                         **{**common, "device_id": "device-0002"})
    # what logout / device revocation call, inside their own unit of work
    with services.store.transaction() as uow:
        assert remove_device_subscriptions(uow, "device-0001") == 1
        assert remove_device_subscriptions(uow, "device-0001") == 0
    assert [d.id for d in services.store.scan(SUBSCRIPTIONS)] == [other["sub_id"]]
    assert services.store.get(DEVICES, "device-0001") is None
    assert remove_user_subscriptions(services.store, user["user_id"]) == 1
    assert list(services.store.scan(SUBSCRIPTIONS)) == []


def test_unsubscribe_own_only(services):
    a, b = add_user(services, "user.a"), add_user(services, "user.b")
    sub, _ = subscribe(services.store, user_id=a["user_id"], device_id="device-000a", partnership="east-sussex",
                       endpoint="https://fcm.googleapis.com/1", keys=KEYS, at="t")
    assert not unsubscribe(services.store, sub["sub_id"], b["user_id"])
    assert not unsubscribe(services.store, "no-such-id", a["user_id"])
    assert unsubscribe(services.store, sub["sub_id"], a["user_id"])
    assert services.store.get(SUBSCRIPTIONS, sub["sub_id"]) is None


def test_vapid_key_file_is_private_and_stable(tmp_path):
    keys = load_or_create_vapid(tmp_path)
    mode = stat.S_IMODE(os.stat(key_path(tmp_path)).st_mode)
    assert mode == 0o600
    raw = b64u_decode(keys.public_key)
    assert len(raw) == 65 and raw[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    from server.push import vapid

    vapid._cache.clear()
    assert load_or_create_vapid(tmp_path).public_key == keys.public_key  # re-read from the file


def test_vapid_key_created_once_under_concurrency(tmp_path):
    import threading

    from server.push import vapid

    results = []

    def go():
        results.append(load_or_create_vapid(tmp_path).public_key)

    for _ in range(3):
        vapid._cache.clear()
        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(set(results)) == 1
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["vapid_private.pem"]

