"""The edge of a real ``caseflow serve`` on loopback (issue #10 items 2 and 8): slow-loris,
waitress's own errors, request ids, security headers and the vendored API docs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import time

import pytest
import requests

from tests.support import ROOT, LiveServer


def _slow_socket(source: str, port: int) -> socket.socket:
    s = socket.socket()
    s.bind((source, 0))  # every 127/8 address is loopback on Linux: other "clients" on this machine
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the head never ends
    return s


def _read_all(s: socket.socket, limit: float) -> bytes:
    s.settimeout(limit)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory):
    """One server (no demo users: nothing here logs in) with a 2 s head deadline, https public URL."""
    srv = LiveServer(tmp_path_factory.mktemp("edge") / "data", demo=False, env={
        "CASEFLOW_HEADER_TIMEOUT_SECONDS": "2", "CASEFLOW_MAX_CONNECTIONS_PER_ADDRESS": "60",
        "CASEFLOW_TRUSTED_PROXIES": "127.0.0.9", "CASEFLOW_PUBLIC_URL": "https://caseflow.example.org"}).start()
    yield srv
    srv.stop()


def test_slow_loris_cannot_stall_healthz(edge_server):
    """210 sockets trickling an endless head (waitress used to stop accepting at 100): /healthz
    still answers, the address over its cap is refused, and the slow sockets are closed."""
    port = edge_server.port
    socks, stop = [], threading.Event()
    try:
        for source in ("127.0.0.2", "127.0.0.3"):
            socks += [_slow_socket(source, port) for _ in range(50)]
        hog = []
        for _ in range(110):  # one address over its cap of 60
            with contextlib.suppress(OSError):
                hog.append(_slow_socket("127.0.0.4", port))
        socks += hog

        def trickle():
            while not stop.wait(0.4):
                for s in list(socks):
                    try:
                        s.send(b"X")
                    except OSError:
                        socks.remove(s)

        threading.Thread(target=trickle, daemon=True).start()
        for _ in range(3):
            r = requests.get(edge_server.url + "/healthz", timeout=5)
            assert r.status_code == 200
            time.sleep(0.3)
        refused = [s for s in hog if _read_all(s, 0.2).startswith(b"HTTP/1.1 503")]
        assert len(refused) >= 40, len(refused)  # 110 tried, at most 60 held
        # the head deadline (2 s here) closes a socket that keeps trickling
        probe = socks[0]
        assert _read_all(probe, 10) == b""
        assert requests.get(edge_server.url + "/healthz", timeout=5).status_code == 200
    finally:
        stop.set()
        for s in socks:
            s.close()


def _raw(port: int, data: bytes) -> tuple[str, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        raw = _read_all(s, 10)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return lines[0], headers, body


def test_errors_waitress_answers_itself_are_problem_json_and_logged(edge_server):
    port = edge_server.port
    status, headers, body = _raw(port, b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                       b"application/json\r\nContent-Length: 2097152\r\n\r\n{")
    assert status.split()[1] == "413" and headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413 and problem["type"].endswith("/request-entity-too-large")
    assert problem["request_id"] == headers["x-request-id"]
    status, headers, body = _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 256 * 1024
                                 + b"\r\n\r\n")
    assert status.split()[1] == "431" and json.loads(body)["type"].endswith("/request-header-fields-too-large")
    status, headers, body = _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
    assert status.split()[1] == "400" and json.loads(body)["status"] == 400
    time.sleep(0.2)
    logged = [json.loads(line) for line in edge_server.log().splitlines() if line.startswith("{")]
    refused = [e for e in logged if e["msg"] == "request refused by the HTTP server"]
    assert {e["status"] for e in refused} >= {413, 431, 400}


def test_request_ids_are_the_servers_own(edge_server):
    r = requests.get(edge_server.url + "/healthz", headers={"X-Request-Id": "chosen-by-the-caller-0001"})
    assert r.headers["X-Request-Id"] != "chosen-by-the-caller-0001"
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"])
    # only a trusted proxy (CASEFLOW_TRUSTED_PROXIES) may hand one on, and only well-formed
    with requests.Session() as proxy:
        proxy.mount("http://", _SourceAdapter("127.0.0.9"))
        r = proxy.get(edge_server.url + "/healthz", headers={"X-Request-Id": "0123456789abcdef0123456789abcdef"})
        assert r.headers["X-Request-Id"] == "0123456789abcdef0123456789abcdef"
        r = proxy.get(edge_server.url + "/healthz", headers={"X-Request-Id": "bad id; with spaces"})
        assert r.headers["X-Request-Id"] != "bad id; with spaces"


class _SourceAdapter(requests.adapters.HTTPAdapter):
    """Connect from a chosen loopback source address (a stand-in proxy host)."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def test_security_headers_and_offline_api_docs(edge_server, tmp_path):
    srv = edge_server
    r = requests.get(srv.url + "/api/v1/docs")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', r.text)
    assert scripts == ["/api/v1/docs/assets/redoc.standalone.js"]  # same origin: no CDN
    assert not re.search(r"<script(?![^>]*src=)[^>]*>", r.text)  # no inline script
    js = requests.get(srv.url + scripts[0])
    note = (ROOT / "server/static/redoc/VERSION.md").read_text()
    assert js.status_code == 200 and hashlib.sha256(js.content).hexdigest() in note
    api = requests.get(srv.url + "/healthz")
    assert "Content-Security-Policy" not in api.headers and api.headers["Strict-Transport-Security"]
    from server.app import create_app
    from server.config import Settings

    plain = create_app(Settings(data_dir=tmp_path, public_url="http://127.0.0.1:8000")).test_client()
    assert "Strict-Transport-Security" not in plain.get("/healthz").headers


def test_html_policy_allows_a_same_origin_web_app(edge_server):
    from server.edge import HTML_CSP

    def rules(policy: str) -> dict:
        return dict(part.strip().split(" ", 1) for part in policy.split(";"))

    for directive in ("script-src", "worker-src", "manifest-src", "connect-src"):
        assert rules(HTML_CSP)[directive] == "'self'", directive
    assert "unsafe-inline" not in HTML_CSP and "unsafe-eval" not in HTML_CSP
    # the web app's page: same-origin bundle, worker and manifest, and no eval: its form validator
    # (@cfworker/json-schema) interprets schemas; the browser tests run it under this policy
    page = requests.get(edge_server.url + "/app/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    app = rules(page.headers["Content-Security-Policy"])
    assert app["script-src"] == "'self'"
    assert app["worker-src"] == app["manifest-src"] == app["connect-src"] == "'self'"
    assert not re.search(r"<script(?![^>]*src=)[^>]*>", page.text)


def _logged(srv: LiveServer, msg: str) -> list[dict]:
    return [e for e in (json.loads(line) for line in srv.log().splitlines() if line.startswith("{"))
            if e["msg"] == msg]


def test_logs_name_the_client_address_resolved_behind_a_trusted_proxy_only(edge_server):
    """The request line and a refused login carry the client's address (the operator's access log):
    behind the trusted proxy the X-Forwarded-For client, from anyone else the peer (their own
    X-Forwarded-For ignored). The refused login's line names no username."""
    with requests.Session() as proxy, requests.Session() as direct:
        proxy.mount("http://", _SourceAdapter("127.0.0.9"))
        direct.mount("http://", _SourceAdapter("127.0.0.6"))
        via = proxy.get(edge_server.url + "/healthz", headers={"X-Forwarded-For": "198.51.100.23"})
        forged = direct.get(edge_server.url + "/healthz", headers={"X-Forwarded-For": "198.51.100.99"})
        login = {"username": "nobody.sentinel-user", "password": "wrong-password", "device_id": "device-edge-01"}
        refused_via = proxy.post(edge_server.url + "/api/v1/auth/login", json=login,
                                 headers={"X-Forwarded-For": "203.0.113.41"})
        refused_forged = direct.post(edge_server.url + "/api/v1/auth/login", json=login,
                                     headers={"X-Forwarded-For": "203.0.113.99"})
    assert refused_via.status_code == refused_forged.status_code == 401
    time.sleep(0.2)  # the server's log lines are flushed after each answer
    requests_by_id = {e["request_id"]: e for e in _logged(edge_server, "request")}
    assert requests_by_id[via.headers["X-Request-Id"]]["client_address"] == "198.51.100.23"
    assert requests_by_id[forged.headers["X-Request-Id"]]["client_address"] == "127.0.0.6"
    assert requests_by_id[refused_via.headers["X-Request-Id"]]["client_address"] == "203.0.113.41"
    refused = {e["request_id"]: e for e in _logged(edge_server, "login refused")}
    assert refused[refused_via.headers["X-Request-Id"]]["client_address"] == "203.0.113.41"
    assert refused[refused_forged.headers["X-Request-Id"]]["client_address"] == "127.0.0.6"
    assert refused[refused_via.headers["X-Request-Id"]]["problem"] == "login-failed"
    log = edge_server.log()
    assert "198.51.100.99" not in log and "203.0.113.99" not in log  # a forged hop is never believed
    assert "nobody.sentinel-user" not in log and "wrong-password" not in log
