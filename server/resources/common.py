"""Helpers shared by resource modules."""

from __future__ import annotations

from flask import current_app, request
from marshmallow import Schema, fields

from server.services import Services

BEARER = [{"bearerAuth": []}]


def services() -> Services:
    return current_app.extensions["caseflow"]


def client_address() -> str:
    return request.remote_addr or "unknown"


class ProblemSchema(Schema):
    type = fields.Str()
    title = fields.Str()
    status = fields.Int()
    detail = fields.Str()
    errors = fields.List(fields.Dict())
