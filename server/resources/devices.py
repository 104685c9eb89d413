"""POST /api/v1/devices/{device_id}/revoke (admin)."""

from __future__ import annotations

from flask_smorest import Blueprint

from server.auth.tokens import roles_required
from server.problems import Problem
from server.resources.common import BEARER, services

blp = Blueprint("devices", __name__, url_prefix="/api/v1/devices", description="Device administration")


@blp.route("/<string:device_id>/revoke", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200)
@roles_required("admin")
def revoke(device_id: str, actor):
    """Revoke a lost device: its next request is refused and it is told to wipe its local data."""
    try:
        device = services().accounts.revoke_device(device_id, actor.user_id, partnership=actor.partnership)
    except KeyError:
        raise Problem(404, "device-not-found", "No such device in your partnership.") from None
    return {"device_id": device["device_id"], "revoked": True, "revoked_at": device["revoked_at"]}
