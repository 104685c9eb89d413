"""``/metrics``: off without a token, refused without the right one, Prometheus text with it."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
import requests

from tests.support import InProcessApp

TOKEN = "metrics-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    os.environ["CASEFLOW_METRICS_TOKEN"] = TOKEN  # read when the app is made
    try:
        a = InProcessApp(tmp_path_factory.mktemp("metrics") / "data")
    finally:
        del os.environ["CASEFLOW_METRICS_TOKEN"]
    yield a
    a.close()


def test_metrics_is_absent_without_a_token(tmp_path, monkeypatch):
    monkeypatch.delenv("CASEFLOW_METRICS_TOKEN", raising=False)
    from werkzeug.serving import make_server

    from server.app import create_app
    from server.config import Settings

    flask_app = create_app(Settings(data_dir=tmp_path / "data"))  # no demo users: cheap
    http = make_server("127.0.0.1", 0, flask_app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        r = requests.get(f"http://127.0.0.1:{http.server_port}/metrics", timeout=10)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")
    finally:
        http.shutdown()
        flask_app.extensions["caseflow"].store.close()


def test_metrics_refuses_a_missing_or_wrong_token(app):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = requests.get(app.url + "/metrics", headers=headers, timeout=10)
        assert r.status_code == 401, headers
        assert r.json()["type"].endswith("/metrics-token-required") and TOKEN not in r.text


def test_metrics_reports_requests_mutations_commits_and_scans(app):
    from server.push.deadlines import scan_deadlines

    user = app.client("esx.business")
    pushed = user.post("/api/v1/sync/push", json={"device_id": user.device_id, "mutations": [
        {"mutation_id": str(uuid.uuid4()), "seq": 1, "kind": "create_case", "payload": {}}]})
    assert pushed.status_code == 200, pushed.text
    scan_deadlines(app.services, force=True, today=app.clock.today())
    r = requests.get(app.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    assert 'caseflow_http_requests_total{method="POST",route="/api/v1/sync/push",status="200"}' in text
    assert 'caseflow_mutations_total{kind="create_case",status="rejected"}' in text
    assert "caseflow_store_commit_seconds_count" in text
    assert "caseflow_deadline_scans_total" in text and "caseflow_push_deliveries_total" in text
    assert user.device_id not in text  # labels are routes and kinds, never what a caller sent


FORKED_WORKERS = """
import os, sys
import server.cli  # as `caseflow serve`: prometheus_client is imported before the directory is set
assert "prometheus_client" in sys.modules
from server.multiproc import prepare_metrics_dir
prepare_metrics_dir(__import__("pathlib").Path(sys.argv[1]))
from server import metrics
metrics.count_request("GET", "/api/v1/cases", 200)  # the master, before the fork (as _checked_app)
for _ in range(2):  # two gunicorn-style forked workers
    pid = os.fork()
    if pid == 0:
        metrics.count_request("GET", "/api/v1/cases", 200)
        os._exit(0)
    os.waitpid(pid, 0)
print(metrics.exposition().decode())
"""


def test_metrics_sum_the_counts_of_forked_worker_processes(tmp_path):
    """As under ``serve --workers N``: each process writes its counts to the multiprocess directory
    that ``serve`` prepares after the CLI imported prometheus_client; any process answers the sum."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    out = subprocess.run([sys.executable, "-c", FORKED_WORKERS, str(tmp_path)], env=env, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    assert 'caseflow_http_requests_total{method="GET",route="/api/v1/cases",status="200"} 3.0' in out
    assert len(list(tmp_path.glob("metrics-*/counter_*.db"))) == 3
