"""POST /api/v1/devices/{device_id}/revoke (admin)."""

from __future__ import annotations

from flask_smorest import Blueprint

from server.auth.tokens import roles_required
from server.openapi import returns
from server.resources.common import BEARER

blp = Blueprint("devices", __name__, url_prefix="/api/v1/devices", description="Device administration")


@blp.route("/<string:device_id>/revoke", methods=["POST"])
@returns(blp, 200, "DeviceRevocation")
@blp.doc(security=BEARER)
@blp.response(200)
@roles_required("admin")
def revoke(device_id: str, actor):
    """Revoke a lost device: its next request is refused and it is told to wipe its local data."""
    from server.resources.admin import apply  # the one write path (admin.revoke_device), ADR 0020

    result = apply(actor, "admin.revoke_device", {"device_id": device_id})
    return {"device_id": result["device_id"], "revoked": True, "revoked_at": result["revoked_at"]}
