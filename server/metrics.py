"""``GET /metrics``: Prometheus text format (prometheus_client), not public by default.

Reported: HTTP requests (method, route, status), mutations by kind and status, push deliveries by
outcome, deadline scans and the alerts they wrote, and the store's commit latency as the write
path sees it.

Access: the endpoint exists only when ``CASEFLOW_METRICS_TOKEN`` is set (otherwise 404, as for any
unknown address), and answers only a request with ``Authorization: Bearer <that token>`` (else 401).
Route labels are URL rules (``/api/v1/cases/<string:case_id>``), never paths: no case id or other
caller-typed text becomes a label.

Several processes (``serve --workers N``): with ``PROMETHEUS_MULTIPROC_DIR`` set before
prometheus_client is imported (``server.multiproc`` does it), each worker writes its values there
and any worker's ``/metrics`` answers the sum of them all.
"""

from __future__ import annotations

import hmac
import os
import threading
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client import values as prometheus_values

from server.problems import Problem, problem_response

TOKEN_ENV = "CASEFLOW_METRICS_TOKEN"  # noqa: S105 - the name of the variable, not a secret



class _Metrics:
    def __init__(self) -> None:
        self.requests = Counter("caseflow_http_requests_total", "HTTP requests answered",
                                ["method", "route", "status"])
        self.mutations = Counter("caseflow_mutations_total", "Mutations applied by the write path", ["kind", "status"])
        self.push = Counter("caseflow_push_deliveries_total", "Web Push deliveries by outcome", ["outcome"])
        self.scans = Counter("caseflow_deadline_scans_total", "Deadline scans run")
        self.scan_alerts = Counter("caseflow_deadline_alerts_total", "Deadline alerts written by scans", ["kind"])
        self.commit = Histogram("caseflow_store_commit_seconds", "Store commit latency of a write-path unit of work",
                                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
        # the child of each label set, looked up once: ``labels()`` checks and converts its arguments
        # and takes a lock on every call (a few microseconds, twice per push); children are never
        # removed, so a kept child is the one ``labels()`` would return
        self._children: dict[tuple, Any] = {}

    def child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found


_made: list[_Metrics] = []
_lock = threading.Lock()


def _m() -> _Metrics:
    """The metrics, made on first use: ``serve --workers`` sets PROMETHEUS_MULTIPROC_DIR after
    prometheus_client was imported (the CLI imports this module), so its value class is chosen
    again here, before any value exists. Values made in the master follow each worker's pid."""
    if not _made:
        with _lock:
            if not _made:
                if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                    prometheus_values.ValueClass = prometheus_values.get_value_class()
                _made.append(_Metrics())
    return _made[0]


class Observer:
    """What :class:`sync.service.WritePath` reports (sync/ stays free of prometheus_client)."""

    @staticmethod
    def mutation(kind: str, status: str) -> None:
        m = _m()
        m.child(m.mutations, kind, status).inc()

    @staticmethod
    def commit(seconds: float) -> None:
        _m().commit.observe(seconds)


OBSERVER = Observer()


def count_push(stats: dict[str, int]) -> None:
    """A delivery round's outcomes (``server.push.worker.deliver_pending``'s counters)."""
    for outcome in ("sent", "retried", "gone", "failed", "expired", "dropped"):
        if stats.get(outcome):
            _m().push.labels(outcome).inc(stats[outcome])


def count_scan(stats: dict[str, int]) -> None:
    if stats.get("skipped"):
        return
    m = _m()
    m.scans.inc()
    for kind in ("reminders", "escalations"):
        if stats.get(kind):
            m.scan_alerts.labels(kind).inc(stats[kind])


def count_request(method: str, route: str, status: int) -> None:
    m = _m()
    m.child(m.requests, method, route, str(status)).inc()


def exposition() -> bytes:
    _m()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


def install(app: Flask) -> None:
    """Add ``/metrics`` when a token is configured; without one the address does not exist."""
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        return

    def metrics() -> Any:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            problem = Problem(401, "metrics-token-required", "Send the metrics token as a bearer token.")
            return problem_response(problem)
        return Response(exposition(), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                        headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.add_url_rule("/metrics", "metrics", metrics)
