"""Every error is problem+json; service endpoints; OpenAPI 3.1; no personal data in logs."""

from __future__ import annotations

import requests

from tests.support import DEMO_PASSWORD, Client, assert_problem

LOGIN = "/api/v1/auth/login"


def test_health_and_ready(server):
    assert requests.get(server.url + "/healthz").json() == {"status": "ok"}
    r = requests.get(server.url + "/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_malformed_json_is_400(server):
    r = requests.post(server.url + LOGIN, data=b'{"username": ', headers={"Content-Type": "application/json"})
    assert "not valid JSON" in assert_problem(r, 400, "malformed-json")["detail"]
    r = requests.post(server.url + LOGIN, data=b'{"username": NaN}', headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "malformed-json")
    r = requests.post(server.url + LOGIN, data=b'"\xff\xfe"', headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "malformed-json")
    deep = "[" * 100 + "]" * 100
    r = requests.post(server.url + LOGIN, data=deep, headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "malformed-json")


def test_non_object_body_is_422(server):
    r = requests.post(server.url + LOGIN, json=[1, 2])
    assert_problem(r, 422)


def test_wrong_media_type_is_415(server):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = requests.post(server.url + LOGIN, data="username=a", headers=form)
    assert_problem(r, 415)


def test_body_over_limit_is_413(server):
    big = b'{"username": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    r = requests.post(server.url + LOGIN, data=big, headers={"Content-Type": "application/json"})
    assert_problem(r, 413)


def test_unknown_path_404_and_wrong_method_405(server):
    assert_problem(requests.get(server.url + "/api/v1/nothing-here"), 404)
    r = requests.get(server.url + LOGIN)
    assert_problem(r, 405)
    assert "POST" in r.headers["Allow"]


def test_openapi_31_and_docs_page(server):
    spec = requests.get(server.url + "/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    for path in ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout",
                 "/api/v1/devices/{device_id}/revoke", "/healthz", "/readyz"):
        assert path in spec["paths"], path
    login_schema = spec["components"]["schemas"]["Login"]
    assert set(login_schema["required"]) == {"username", "password", "device_id"}
    page = requests.get(server.url + "/api/v1/docs")
    assert page.status_code == 200 and "openapi.json" in page.text


def test_logs_carry_ids_not_personal_data(fresh_server):
    srv = fresh_server()
    sentinel_password = "Sentinel-Password-4471"
    requests.post(srv.url + LOGIN, json={"username": "esx.hos", "password": sentinel_password,
                                         "device_id": "device-sentinel"})
    c = Client(srv.url, "esx.hos")
    c.get("/api/v1/auth/whoami")
    srv.stop()
    log = srv.log()
    assert '"route": "/api/v1/auth/whoami"' in log and c.user["user_id"] in log
    for secret in (sentinel_password, DEMO_PASSWORD, "esx.hos", c.access, c.refresh):
        assert secret not in log
