"""Case-type definitions as JSON and as a Mermaid diagram."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from server.auth.tokens import auth_required
from server.openapi import returns
from server.problems import Problem
from server.resources.common import BEARER, services

blp = Blueprint("case_types", __name__, url_prefix="/api/v1/case-types", description="Case types (low-code)")


def _case_type(name: str):
    try:
        return services().case_types.get(name)
    except KeyError:
        raise Problem(404, "unknown-case-type", "There is no such case type.") from None


@blp.route("", methods=["GET"])
@returns(blp, 200, "CaseTypeList")
@blp.doc(security=BEARER)
@blp.response(200)
@auth_required
def list_case_types(actor):
    """Every case type (latest version of each)."""
    registry = services().case_types
    return {"case_types": [{"case_type": ct.case_type, "version": ct.version, "title": ct.definition.title}
                           for ct in registry.case_types()]}


@blp.route("/<string:case_type>", methods=["GET"])
@returns(blp, 200, "CaseTypeDescription")
@blp.doc(security=BEARER)
@blp.response(200)
@auth_required
def describe(case_type: str, actor):
    """States, transitions (event, from, to, roles, approvals, forms needed) and deadlines."""
    return _case_type(case_type).describe()


@blp.route("/<string:case_type>/diagram.mmd", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200)
@auth_required
def diagram(case_type: str, actor):
    """The state machine as a Mermaid state diagram."""
    return Response(_case_type(case_type).mermaid(), mimetype="text/vnd.mermaid")
