"""POST /api/v1/sync/push and GET /api/v1/sync/pull: the offline-first contract."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from server.auth.tokens import auth_required
from server.jsonbody import request_json
from server.openapi import MutationItem, returns
from server.resources.common import BEARER, services
from sync.feed import MAX_LIMIT
from sync.service import MAX_MUTATIONS, parse_batch

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="Offline sync: push mutations, pull changes")


class PushSchema(Schema):
    device_id = fields.Str(required=True)
    # each item is checked by parse_batch (envelope) and the kind's payload schema (sync.payloads),
    # so that a bad mutation is a rejected result; the document shows a oneOf by kind
    mutations = fields.List(MutationItem(), required=True, validate=validate.Length(max=MAX_MUTATIONS))

    def load(self, data, *, many=None, partial=None, unknown=None):  # noqa: ANN001, ANN201 - marshmallow's
        """A body this schema loads without an error is handed on unloaded: the handler reads the
        body itself (``parse_batch``), so the load only decides whether to answer a 422. Any other
        body is loaded as before and refused with marshmallow's messages."""
        if many is None and partial is None and plainly_valid(data):
            return data
        return super().load(data, many=many, partial=partial, unknown=unknown)


def plainly_valid(body) -> bool:  # noqa: ANN001
    """True when :class:`PushSchema` would load ``body`` without an error: an object of exactly
    ``device_id`` (a string) and ``mutations`` (a list of at most MAX_MUTATIONS objects)."""
    if type(body) is not dict or len(body) != 2:
        return False
    mutations = body.get("mutations")
    return (type(body.get("device_id")) is str and type(mutations) is list and len(mutations) <= MAX_MUTATIONS
            and all(type(m) is dict for m in mutations))


class PullQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    cursor = fields.Str(load_default="")
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))


@blp.route("/push", methods=["POST"])
@returns(blp, 200, "PushResults")
@blp.doc(security=BEARER)
@blp.arguments(PushSchema)
@blp.response(200)
@auth_required
def push(_body, actor):
    """Apply a batch of this device's mutations exactly once, in seq order; one result each."""
    device_id, mutations = parse_batch(request_json())
    return {"results": services().write_path.apply_batch(actor, device_id, mutations)}


@blp.route("/pull", methods=["GET"])
@returns(blp, 200, "PullPage")
@blp.doc(security=BEARER)
@blp.arguments(PullQuery, location="query")
@blp.response(200)
@auth_required
def pull(query, actor):
    """Every change the caller may see since ``cursor`` (empty: everything), at most ``limit``."""
    return services().feed.pull(actor, query["cursor"] or None, query["limit"])
