"""Each token is verified once (server/auth/verify.py, ADR 0034), and that changes nothing a client can
see: over real loopback HTTP, with the app in this process so a test can read the cache's counters,
a token served from the cache still expires on time, a logout, a revoked device or a disabled account
is refused on the very next request, one changed byte is a miss and is refused, a rotated signing key
refuses every earlier token, and the cache is bounded."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from server.auth import verify
from tests.support import Client, InProcessApp, assert_problem

WHOAMI = "/api/v1/auth/whoami"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    app = InProcessApp(tmp_path_factory.mktemp("tokencache") / "data")
    yield app
    app.close()


def _call(site, token: str, path: str = WHOAMI) -> requests.Response:
    return requests.get(site.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _cached_twice(site, token: str) -> None:
    """Two good answers for ``token``, the second from the cache (a hit and no new miss)."""
    assert _call(site, token).status_code == 200
    before = verify.cache_info()
    assert _call(site, token).status_code == 200
    after = verify.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def _secret(site) -> str:
    return site.app.config["JWT_SECRET_KEY"]


def _claims(site, token: str) -> dict:
    return jwt.decode(token, _secret(site), algorithms=["HS256"], audience="caseflow-api", issuer="caseflow")


def test_a_cached_token_still_expires_on_time(site):
    c = Client(site.url, "esx.reviewer")
    # the server's own key, the real session and device: only the expiry is short
    exp = int(time.time()) + 2
    token = jwt.encode({**_claims(site, c.access), "exp": exp}, _secret(site), algorithm="HS256")
    _cached_twice(site, token)
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    assert_problem(_call(site, token), 401, "token-expired")
    # a token not yet valid, even when cached first under another nbf, is refused as well
    early = jwt.encode({**_claims(site, c.access), "nbf": int(time.time()) + 600}, _secret(site), algorithm="HS256")
    assert_problem(_call(site, early), 401, "invalid-token")


def test_logout_refuses_a_cached_token_on_the_next_request(site):
    c = Client(site.url, "esx.scrutineer")
    _cached_twice(site, c.access)
    assert _call_post(site, c.access, "/api/v1/auth/logout").status_code == 204
    assert_problem(_call(site, c.access), 401, "token-revoked")


def _call_post(site, token: str, path: str) -> requests.Response:
    return requests.post(site.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_revoked_device_is_refused_with_a_cached_token(site):
    worker = Client(site.url, "esx.social-worker")
    admin = Client(site.url, "esx.admin")
    _cached_twice(site, worker.access)
    assert admin.post(f"/api/v1/devices/{worker.device_id}/revoke").status_code == 200
    assert_problem(_call(site, worker.access), 403, "device-revoked")


def test_a_disabled_account_is_refused_with_a_cached_token(site):
    crg = Client(site.url, "esx.crg")
    admin = Client(site.url, "esx.admin")
    _cached_twice(site, crg.access)
    assert admin.post(f"/api/v1/admin/users/{crg.user['user_id']}/disable").json()["changed"] is True
    assert_problem(_call(site, crg.access), 401, "account-disabled")
    assert admin.post(f"/api/v1/admin/users/{crg.user['user_id']}/enable").status_code == 200


def _flip(text: str, i: int) -> str:
    # another base64url character at position i (never the same one)
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]


def test_one_changed_byte_is_refused_right_after_the_genuine_token_was_cached(site):
    c = Client(site.url, "esx.business")
    _cached_twice(site, c.access)
    header, payload, signature = c.access.split(".")
    h, p = len(header) + 1, len(header) + 1 + len(payload) + 1
    tampered = [_flip(c.access, h + 5), _flip(c.access, h + len(payload) // 2),  # payload
                _flip(c.access, p), _flip(c.access, len(c.access) - 2),  # signature
                _flip(c.access, 3),  # header
                c.access + "A", c.access[:-1]]  # one byte more or less
    for token in tampered:
        assert token != c.access
        assert_problem(_call(site, token), 401, "invalid-token")
    # another payload under the genuine signature (the classic attack), and a refresh token as access
    forged = jwt.api_jws.base64url_encode(jwt.utils.force_bytes(
        f'{{"sub":"someone-else","sid":"{_claims(site, c.access)["sid"]}"}}')).decode()
    assert_problem(_call(site, f"{header}.{forged}.{signature}"), 401, "invalid-token")
    assert_problem(_call(site, c.refresh), 401, "invalid-token")
    # the genuine token is still served, from the cache
    _cached_twice(site, c.access)


def test_a_cached_access_token_is_no_refresh_token(site):
    c = Client(site.url, "esx.police-dsl")
    _cached_twice(site, c.access)
    assert_problem(_call_post(site, c.access, "/api/v1/auth/refresh"), 401, "invalid-token")
    r = _call_post(site, c.refresh, "/api/v1/auth/refresh")
    assert r.status_code == 200, r.text


def test_a_rotated_signing_key_refuses_every_cached_token_at_once(site):
    c = Client(site.url, "esx.school-dsl")
    _cached_twice(site, c.access)
    old = _secret(site)
    site.app.config["JWT_SECRET_KEY"] = "r" * 48
    try:
        assert_problem(_call(site, c.access), 401, "invalid-token")
        fresh = Client(site.url, "esx.school-dsl")  # signed with the new key
        assert _call(site, fresh.access).status_code == 200
    finally:
        site.app.config["JWT_SECRET_KEY"] = old
    assert _call(site, c.access).status_code == 200


def test_the_cache_is_bounded(site):
    # verify.CACHE_SIZE + 50 distinct valid tokens: the oldest is evicted, the size never grows past the bound
    c = Client(site.url, "esx.health-lead")
    base = _claims(site, c.access)
    cfg = site.app.config
    args = (_secret(site), ("HS256",), cfg["JWT_DECODE_ISSUER"], cfg["JWT_DECODE_AUDIENCE"], True, 0)
    tokens = [jwt.encode({**base, "n": n}, _secret(site), algorithm="HS256") for n in range(verify.CACHE_SIZE + 50)]
    for token in tokens:
        verify._verify(token, *args)
    info = verify.cache_info()
    assert info.maxsize == verify.CACHE_SIZE and info.currsize == verify.CACHE_SIZE
    misses = info.misses
    verify._verify(tokens[0], *args)
    assert verify.cache_info().misses == misses + 1  # evicted: verified again
