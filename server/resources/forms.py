"""GET /api/v1/forms and /api/v1/forms/{form_id}/versions/{version}: definitions for offline use."""

from __future__ import annotations

from flask import Response, json, request
from flask_smorest import Blueprint

from forms.errors import FormError, UnknownForm
from server.auth.tokens import auth_required
from server.openapi import returns
from server.problems import Problem
from server.resources.common import BEARER, services

blp = Blueprint("forms", __name__, url_prefix="/api/v1/forms", description="JSON-schema form definitions")

# A published version never changes (a change is a new version), so a tablet may keep it for good.
IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"


def form_problem(exc: FormError) -> Problem:
    if isinstance(exc, UnknownForm):
        return Problem(404, "unknown-form", exc.detail, known_forms=exc.known)
    available = getattr(exc, "available", None)
    return Problem(404, "unknown-form-version", exc.detail, available_versions=available)


@blp.route("", methods=["GET"])
@returns(blp, 200, "FormList")
@blp.doc(security=BEARER)
@blp.response(200)
@auth_required
def list_forms(actor):
    """Every form with its versions (latest, titles, roles, retirement dates)."""
    return {"forms": [info.to_dict() for info in services().forms.forms()]}


@blp.route("/<string:form_id>/versions/<int:version>", methods=["GET"])
@returns(blp, 200, "FormVersion")
@blp.doc(security=BEARER, responses={"304": {"description": "Not modified (If-None-Match matched)"}})
@blp.response(200)
@auth_required
def get_version(form_id: str, version: int, actor):
    """``{form_id, version, schema, ui_schema, ...}`` with a strong ETag; 304 on If-None-Match."""
    registry = services().forms
    try:
        fv = registry.get(form_id, version)
    except FormError as exc:
        raise form_problem(exc) from None
    headers = {"ETag": fv.etag, "Cache-Control": IMMUTABLE if fv.published else REVALIDATE, "Vary": "Authorization"}
    if request.if_none_match.contains(fv.etag.strip('"')) or request.if_none_match.star_tag:
        return Response(status=304, headers=headers)
    return Response(json.dumps(fv.public_document()), status=200, mimetype="application/json", headers=headers)
