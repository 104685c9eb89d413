"""Auth over real HTTP: login, refresh rotation, logout, device revocation, token attacks."""

from __future__ import annotations

import base64
import datetime as dt
import json

import jwt
import requests

from tests.support import DEMO_PASSWORD, Client, assert_problem

LOGIN = "/api/v1/auth/login"


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _secret(server) -> str:
    return (server.data_dir / "secrets" / "jwt.secret").read_text().strip()


def test_demo_user_logs_in_with_device_bound_tokens(server):
    c = Client(server.url, "esx.business")
    assert c.user["username"] == "esx.business"
    assert c.user["partnership"] == "east-sussex" and c.user["roles"] == ["business_team"]
    claims = jwt.decode(c.access, _secret(server), algorithms=["HS256"], audience="caseflow-api", issuer="caseflow")
    assert claims["type"] == "access" and claims["did"] == c.device_id
    assert claims["exp"] - claims["iat"] == 15 * 60
    refresh = jwt.decode(c.refresh, _secret(server), algorithms=["HS256"], audience="caseflow-api")
    assert refresh["type"] == "refresh" and refresh["exp"] - refresh["iat"] == 30 * 86400
    lead = Client(server.url, "esx.health-lead")
    assert lead.user["agency"] == "nhs-sussex-icb" and lead.user["sector"] == "health"


def test_wrong_password_and_unknown_user_look_the_same(server):
    a = requests.post(server.url + LOGIN, json={"username": "esx.crg", "password": "nope", "device_id": "device-0001"})
    b = requests.post(server.url + LOGIN, json={"username": "ghost", "password": "nope", "device_id": "device-0001"})
    assert assert_problem(a, 401, "login-failed")["detail"] == assert_problem(b, 401, "login-failed")["detail"]


def test_login_validation_names_every_field(server):
    r = requests.post(server.url + LOGIN, json={"username": "", "device_id": "x"})
    body = assert_problem(r, 422, "validation-error")
    paths = sorted(e["path"] for e in body["errors"])
    assert paths == ["/device_id", "/password", "/username"]
    body = {"username": "a", "password": "b", "device_id": "device-1", "role": "admin"}
    r = requests.post(server.url + LOGIN, json=body)
    assert [e["path"] for e in assert_problem(r, 422)["errors"]] == ["/role"]


def test_repeated_failures_give_429_with_retry_after(fresh_server):
    srv = fresh_server()
    for _ in range(5):
        r = requests.post(srv.url + LOGIN, json={"username": "esx.crg", "password": "bad", "device_id": "device-0001"})
        assert r.status_code == 401
    r = requests.post(srv.url + LOGIN, json={"username": "esx.crg", "password": DEMO_PASSWORD, "device_id": "device-1"})
    assert_problem(r, 429, "too-many-logins")
    assert int(r.headers["Retry-After"]) > 0
    # another user from the same address is not locked out by one user's failures
    assert Client(srv.url, "esx.business").access


def test_refresh_rotates_and_reuse_ends_the_session(server):
    c = Client(server.url, "esx.crg")
    r = requests.post(server.url + "/api/v1/auth/refresh", headers=c.headers(c.refresh))
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["refresh_token"] != c.refresh
    assert requests.get(server.url + "/api/v1/auth/whoami", headers=c.headers(new["access_token"])).status_code == 200
    r = requests.post(server.url + "/api/v1/auth/refresh", headers=c.headers(new["refresh_token"]))
    assert r.status_code == 200, r.text
    new = r.json()
    # the first refresh token is spent twice over (the grace for parallel refreshes covers only the token
    # just rotated, for seconds: tests/server/test_login_hardening.py): using it is treated as theft
    assert_problem(requests.post(server.url + "/api/v1/auth/refresh", headers=c.headers(c.refresh)), 401)
    assert_problem(requests.post(server.url + "/api/v1/auth/refresh", headers=c.headers(new["refresh_token"])), 401)
    assert_problem(requests.get(server.url + "/api/v1/auth/whoami", headers=c.headers(new["access_token"])), 401)


def test_logout_revokes_access_and_refresh(server):
    c = Client(server.url, "esx.scrutineer")
    assert c.get("/api/v1/auth/whoami").status_code == 200
    assert c.post("/api/v1/auth/logout").status_code == 204
    assert_problem(c.get("/api/v1/auth/whoami"), 401, "token-revoked")
    assert_problem(requests.post(server.url + "/api/v1/auth/refresh", headers=c.headers(c.refresh)), 401)


def test_token_attacks_are_all_401(server):
    c = Client(server.url, "esx.reviewer")
    secret = _secret(server)
    good = jwt.decode(c.access, secret, algorithms=["HS256"], audience="caseflow-api")
    whoami = server.url + "/api/v1/auth/whoami"

    def call(token):
        return requests.get(whoami, headers={"Authorization": f"Bearer {token}"})

    # alg none
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}."
    assert_problem(call(unsigned), 401)
    # tampered payload, original signature
    h, _, s = c.access.split(".")
    tampered = {**good, "sub": "someone-else"}
    assert_problem(call(f"{h}.{_b64(tampered)}.{s}"), 401, "invalid-token")
    # signed with another key
    assert_problem(call(jwt.encode(good, "x" * 48, algorithm="HS256")), 401, "invalid-token")
    # HS512 with the right key: algorithm is pinned
    assert_problem(call(jwt.encode(good, secret, algorithm="HS512")), 401, "invalid-token")
    # expired (correctly signed)
    past = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).timestamp())
    assert_problem(call(jwt.encode({**good, "exp": past}, secret, algorithm="HS256")), 401, "token-expired")
    # wrong audience / issuer
    assert_problem(call(jwt.encode({**good, "aud": "other"}, secret, algorithm="HS256")), 401)
    assert_problem(call(jwt.encode({**good, "iss": "other"}, secret, algorithm="HS256")), 401)
    # refresh token used as an access token
    assert_problem(call(c.refresh), 401, "invalid-token")
    # access token used as a refresh token
    assert_problem(requests.post(server.url + "/api/v1/auth/refresh", headers=c.headers()), 401, "invalid-token")
    # a token for another device of the same session id
    assert_problem(call(jwt.encode({**good, "did": "other-device"}, secret, algorithm="HS256")), 401)
    # garbage and missing headers
    assert_problem(call("not.a.jwt"), 401)
    assert_problem(requests.get(whoami), 401, "missing-token")
    # the real token still works
    assert call(c.access).status_code == 200


def test_revoked_device_is_told_to_wipe(server):
    worker = Client(server.url, "esx.social-worker")
    other_admin_partnership = Client(server.url, "wsx.business")
    admin = Client(server.url, "esx.admin")
    # not an admin
    assert_problem(other_admin_partnership.post(f"/api/v1/devices/{worker.device_id}/revoke"), 403)
    assert_problem(worker.post(f"/api/v1/devices/{worker.device_id}/revoke"), 403, "forbidden-role")
    assert_problem(admin.post("/api/v1/devices/no-such-device/revoke"), 404)
    r = admin.post(f"/api/v1/devices/{worker.device_id}/revoke")
    assert r.status_code == 200 and r.json()["revoked"] is True
    body = assert_problem(worker.get("/api/v1/auth/whoami"), 403, "device-revoked")
    assert body["action"] == "wipe_local_data"
    assert_problem(requests.post(server.url + "/api/v1/auth/refresh", headers=worker.headers(worker.refresh)), 403)
    # the device cannot log in again either
    r = requests.post(server.url + LOGIN, json={"username": "esx.social-worker", "password": DEMO_PASSWORD,
                                                "device_id": worker.device_id})
    assert_problem(r, 403, "device-revoked")


def test_device_is_bound_to_its_first_user(server):
    c = Client(server.url, "esx.police-dsl")
    r = requests.post(server.url + LOGIN, json={"username": "esx.school-dsl", "password": DEMO_PASSWORD,
                                                "device_id": c.device_id})
    assert_problem(r, 409, "device-in-use")
