"""Helpers shared by resource modules."""

from __future__ import annotations

from flask import current_app, request

from server.openapi import ProblemSchema  # noqa: F401 - the one Problem schema, re-exported for resources
from server.services import Services

BEARER = [{"bearerAuth": []}]


def services() -> Services:
    return current_app.extensions["caseflow"]


def client_address() -> str:
    return request.remote_addr or "unknown"
