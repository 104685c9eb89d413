"""GET /api/v1/push/vapid-public-key, POST /api/v1/push/subscriptions, DELETE /api/v1/push/subscriptions/{id}."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from server.auth.tokens import auth_required
from server.jsonbody import request_json
from server.problems import Problem, invalid
from server.push.config import push_config
from server.push.subscriptions import subscribe, unsubscribe, validate_subscription
from server.push.vapid import load_or_create_vapid
from server.resources.common import BEARER, services
from sync.clock import rfc3339

blp = Blueprint("push", __name__, url_prefix="/api/v1/push", description="Web Push: the VAPID key and subscriptions")


class VapidKeySchema(Schema):
    public_key = fields.Str(metadata={"description": "base64url uncompressed P-256 point: the applicationServerKey"})


class KeysSchema(Schema):
    p256dh = fields.Str(required=True, metadata={"description": "base64url, 65 bytes (uncompressed P-256 point)"})
    auth = fields.Str(required=True, metadata={"description": "base64url, 16 bytes"})


class SubscribeSchema(Schema):
    endpoint = fields.Str(required=True, metadata={"description": "the push service URL (https)"})
    keys = fields.Nested(KeysSchema, required=True)
    expirationTime = fields.Float(allow_none=True, metadata={"description": "accepted and ignored"})  # noqa: N815


class SubscriptionSchema(Schema):
    subscription_id = fields.Str()
    device_id = fields.Str()
    created_at = fields.Str()


@blp.route("/vapid-public-key", methods=["GET"])
@blp.response(200, VapidKeySchema)
def vapid_public_key():
    """The server's VAPID public key, to pass as ``applicationServerKey`` to ``pushManager.subscribe``."""
    keys = load_or_create_vapid(services().settings.data_dir)
    return {"public_key": keys.public_key}, 200, {"Cache-Control": "public, max-age=3600"}


@blp.route("/subscriptions", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(SubscribeSchema)
@blp.response(201, SubscriptionSchema)
@blp.alt_response(200, schema=SubscriptionSchema, description="The same subscription was already stored")
@blp.alt_response(422, description="Invalid endpoint or keys; every problem is listed in errors")
@blp.alt_response(409, description="push-subscription-limit: the user has the most subscriptions allowed")
@auth_required
def create_subscription(_body, actor):
    """Subscribe this device (the token's device) to Web Push alerts; replaces its previous subscription."""
    svc = services()
    body = request_json()
    errors = validate_subscription(body, allow_http_loopback=svc.settings.push_allow_http_loopback,
                                   allowed_hosts=push_config(svc).allowed_hosts)
    if errors:
        raise invalid(errors)
    if not actor.device_id:
        raise Problem(403, "no-device", "Subscriptions belong to a device; log in with a device id.")
    sub, created = subscribe(svc.store, user_id=actor.user_id, device_id=actor.device_id,
                             partnership=actor.partnership, endpoint=body["endpoint"], keys=body["keys"],
                             at=rfc3339(svc.clock.now()), max_per_user=svc.settings.max_push_subscriptions_per_user)
    out = {"subscription_id": sub["sub_id"], "device_id": sub["device_id"], "created_at": sub["created_at"]}
    return out, 201 if created else 200


@blp.route("/subscriptions/<string:subscription_id>", methods=["DELETE"])
@blp.doc(security=BEARER)
@blp.response(204)
@blp.alt_response(404, description="No subscription of yours has this id")
@auth_required
def delete_subscription(subscription_id: str, actor):
    """Unsubscribe (your own subscriptions only)."""
    if not unsubscribe(services().store, subscription_id, actor.user_id):
        raise Problem(404, "subscription-not-found", "You have no subscription with this id.")
    return None
