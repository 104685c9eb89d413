"""Liveness and readiness."""

from __future__ import annotations

from flask_smorest import Blueprint

from server.openapi import returns
from server.problems import Problem
from server.resources.common import services

blp = Blueprint("service", __name__, description="Service health")


@blp.route("/healthz", methods=["GET"])
@returns(blp, 200, "Health")
@blp.response(200)
def healthz():
    """The process is alive."""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@returns(blp, 200, "Ready")
@blp.response(200)
def readyz():
    """The store answers reads."""
    store = services().store
    try:
        store.get("partnerships", "__readyz__")
        seq = store.last_seq()
    except Exception as exc:  # any storage failure means not ready
        raise Problem(503, "not-ready", "The store is not reachable.") from exc
    return {"status": "ready", "last_seq": seq}
