"""POST /api/v1/sync/push and GET /api/v1/sync/pull: the offline-first contract."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from server.auth.tokens import auth_required
from server.jsonbody import request_json
from server.resources.common import BEARER, services
from sync.feed import MAX_LIMIT
from sync.service import parse_batch

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="Offline sync: push mutations, pull changes")


class MutationSchema(Schema):
    mutation_id = fields.Str(required=True)
    seq = fields.Int(required=True, strict=True, validate=validate.Range(min=1))
    kind = fields.Str(required=True, validate=validate.OneOf([
        "create_case", "save_submission", "transition", "approve", "resolve_conflict", "assign_reviewer",
        "invite_partnership", "request_amendment", "record_task"]))
    case_id = fields.Str(allow_none=True)
    base_version = fields.Int(allow_none=True, strict=True)
    payload = fields.Dict(required=True)
    client_time = fields.Str(allow_none=True)


class PushSchema(Schema):
    device_id = fields.Str(required=True)
    mutations = fields.List(fields.Nested(MutationSchema), required=True,
                            validate=validate.Length(max=200))


class PullQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    cursor = fields.Str(load_default="")
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))


@blp.route("/push", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(PushSchema)
@blp.response(200)
@auth_required
def push(_body, actor):
    """Apply a batch of this device's mutations exactly once, in seq order; one result each."""
    device_id, mutations = parse_batch(request_json())
    return {"results": services().write_path.apply_batch(actor, device_id, mutations)}


@blp.route("/pull", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(PullQuery, location="query")
@blp.response(200)
@auth_required
def pull(query, actor):
    """Every change the caller may see since ``cursor`` (empty: everything), at most ``limit``."""
    return services().feed.pull(actor, query["cursor"] or None, query["limit"])
