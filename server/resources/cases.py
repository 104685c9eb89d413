"""Case endpoints (online). Every write builds a mutation and goes through the one write path."""

from __future__ import annotations

import uuid

from flask import request
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from server.auth.tokens import auth_required
from server.openapi import returns
from server.problems import Problem
from server.resources.common import BEARER, services
from sync.agency_returns import agency_returns_view
from sync.payloads import (
    ApprovePayload,
    AssignReviewerPayload,
    CreateCasePayload,
    InvitePartnershipPayload,
    RecordTaskPayload,
    RequestAmendmentPayload,
    ResolveConflictPayload,
    SaveSubmissionPayload,
    StrictInt,
    TransitionPayload,
)
from sync.service import MUTATION_ID, Mutation

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="Cases: the online twin of sync push")


# The REST bodies are the kinds' payload schemas (sync.payloads), plus the envelope fields that a
# pushed mutation carries beside its payload: one validation for both doors.
class CreateCaseSchema(CreateCasePayload):
    case_id = fields.Str(validate=validate.Length(max=64),
                         metadata={"description": "Optional client-chosen UUID (offline clients always send one)."})


class SubmissionSchema(SaveSubmissionPayload):
    base_version = StrictInt(validate=validate.Range(min=0),
                             metadata={"description": "The submission version the edit started from."})


class AmendmentRequestSchema(RequestAmendmentPayload):
    class Meta:
        exclude = ("agency_id",)  # in the path

    base_version = StrictInt(validate=validate.Range(min=0),
                             metadata={"description": "The return's submission version the CRG read."})


class CaseListQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    state = fields.Str()
    overdue = fields.Bool()


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return str(uuid.uuid4())
    if not MUTATION_ID.match(key):
        raise Problem(422, "validation-error", "Idempotency-Key must be 8-64 letters, digits or '-'.",
                      errors=[{"path": "", "in": "header", "message": "Invalid Idempotency-Key."}])
    return key


def _apply(actor, kind: str, case_id: str | None, payload: dict, base_version: int | None = None,
           with_view: bool = False) -> dict:
    """Through the one write path. ``with_view``: the answer carries the case view, built and its read
    audited in the write's unit of work, and recorded with it: a replay answers it as it was."""
    mutation = Mutation(_idempotency_key(), kind, case_id, payload, None, base_version)
    respond = None
    if with_view:
        reader = services().reader

        def respond(uow, result):
            if result["status"] == "conflict":
                return {}
            return reader.case_view_in(uow, actor, result.get("case_id") or case_id)
    return services().write_path.apply_one(actor, mutation, respond)


def _conflict(result: dict) -> Problem:
    return Problem(409, result.get("reason", "conflict"), result.get("detail", "The case has moved on."),
                   state=result.get("state"), version=result.get("version"))


@blp.route("", methods=["POST"])
@returns(blp, 201, "CaseView")
@blp.doc(security=BEARER)
@blp.arguments(CreateCaseSchema)
@blp.response(201)
@auth_required
def create_case(body, actor):
    """Open a case with its referral form."""
    payload = {"case_type": body["case_type"], "referral": body["referral"]}
    result = _apply(actor, "create_case", body.get("case_id"), payload, with_view=True)
    return result["response"], 201


@blp.route("", methods=["GET"])
@returns(blp, 200, "CaseList")
@blp.doc(security=BEARER)
@blp.arguments(CaseListQuery, location="query")
@blp.response(200)
@auth_required
def list_cases(query, actor):
    """The cases the caller may see; filters ``state`` and ``overdue=true``."""
    return {"cases": services().reader.list_cases(actor, query.get("state"), query.get("overdue"))}


@blp.route("/<string:case_id>", methods=["GET"])
@returns(blp, 200, "CaseView")
@blp.doc(security=BEARER)
@blp.response(200)
@auth_required
def get_case(case_id: str, actor):
    """The case as this caller may see it: deadlines, allowed events, the forms open to them."""
    return services().reader.case_view(actor, case_id)


@blp.route("/<string:case_id>/submissions", methods=["POST"])
@returns(blp, 200, "MutationResult")
@blp.doc(security=BEARER)
@blp.arguments(SubmissionSchema)
@blp.response(200)
@auth_required
def save_submission(body, case_id: str, actor):
    """Save a draft or submit a final form (pinned to ``form_id@form_version``)."""
    base = body.pop("base_version", None)
    return _apply(actor, "save_submission", case_id, body, base)


@blp.route("/<string:case_id>/transitions", methods=["POST"])
@returns(blp, 202, "CaseView")
@returns(blp, 200, "CaseView")
@blp.doc(security=BEARER)
@blp.arguments(TransitionPayload)
@blp.response(200)
@blp.alt_response(202, description="Waiting for approvals")
@auth_required
def fire_transition(body, case_id: str, actor):
    """Fire an event: 409 if the case left ``expected_state``, 422 with reasons, 202 awaiting approvals."""
    result = _apply(actor, "transition", case_id, body, with_view=True)
    if result["status"] == "conflict":
        raise _conflict(result)
    view = result["response"]
    if result.get("awaiting_approvals"):
        return {**view, "awaiting_approvals": True}, 202
    return view


@blp.route("/<string:case_id>/approvals", methods=["POST"])
@returns(blp, 200, "CaseView")
@blp.doc(security=BEARER)
@blp.arguments(ApprovePayload)
@blp.response(200)
@auth_required
def record_approval(body, case_id: str, actor):
    """One approver's decision; the transition happens when every required approval is in."""
    result = _apply(actor, "approve", case_id, body, with_view=True)
    if result["status"] == "conflict":
        raise _conflict(result)
    view = result["response"]
    return {**view, "approval": {k: result[k] for k in ("rejected", "awaiting_approvals") if k in result}}


@blp.route("/<string:case_id>/tasks", methods=["POST"])
@returns(blp, 200, "CaseView")
@blp.doc(security=BEARER)
@blp.arguments(RecordTaskPayload)
@blp.response(200)
@auth_required
def record_task(body, case_id: str, actor):
    """Record a task (a duty of the case type) with its evidence; answers the case view."""
    _apply(actor, "record_task", case_id, body)
    return services().reader.case_view(actor, case_id, audit=False)


@blp.route("/<string:case_id>/assignments", methods=["POST"])
@returns(blp, 200, "MutationResult")
@blp.doc(security=BEARER)
@blp.arguments(AssignReviewerPayload)
@blp.response(200)
@auth_required
def assign(body, case_id: str, actor):
    """Assign (or unassign) a lead reviewer to the case."""
    return _apply(actor, "assign_reviewer", case_id, body)


@blp.route("/<string:case_id>/invitations", methods=["POST"])
@returns(blp, 200, "MutationResult")
@blp.doc(security=BEARER)
@blp.arguments(InvitePartnershipPayload)
@blp.response(200)
@auth_required
def invite(body, case_id: str, actor):
    """Invite (or uninvite) another partnership to read the case."""
    return _apply(actor, "invite_partnership", case_id, body)


@blp.route("/<string:case_id>/conflicts", methods=["POST"])
@returns(blp, 200, "MutationResult")
@blp.doc(security=BEARER)
@blp.arguments(ResolveConflictPayload)
@blp.response(200)
@auth_required
def resolve_conflict(body, case_id: str, actor):
    """Resolve a recorded conflict: keep the server's value, take the other edit, or set a value."""
    return _apply(actor, "resolve_conflict", case_id, body)


@blp.route("/<string:case_id>/submissions/<string:submission_id>/revisions", methods=["GET"])
@returns(blp, 200, "Revisions")
@blp.doc(security=BEARER)
@blp.response(200)
@auth_required
def revisions(case_id: str, submission_id: str, actor):
    """Every revision of one form, oldest first: revision, status, form_version, at, by, device_id, data."""
    return services().reader.revisions(actor, case_id, submission_id)


@blp.route("/<string:case_id>/history", methods=["GET"])
@returns(blp, 200, "History")
@blp.doc(security=BEARER)
@blp.response(200)
@auth_required
def history(case_id: str, actor):
    """The audit trail of the case: who, when, from which device, what (ids only)."""
    return {"case_id": case_id, "entries": services().reader.history(actor, case_id)}


@blp.route("/<string:case_id>/agency-returns", methods=["GET"])
@returns(blp, 200, "AgencyReturns")
@blp.doc(security=BEARER)
@blp.response(200)
@auth_required
def agency_returns(case_id: str, actor):
    """The agencies' rapid-review returns reconciled: who was asked, who returned, the merged
    chronology and where agencies disagree (an agency user sees only its own agency's line)."""
    return agency_returns_view(services().reader, actor, case_id)


@blp.route("/<string:case_id>/agency-returns/<string:agency_id>/amendment-requests", methods=["POST"])
@returns(blp, 201, "MutationResult")
@blp.doc(security=BEARER)
@blp.arguments(AmendmentRequestSchema)
@blp.response(201)
@auth_required
def request_amendment(body, case_id: str, agency_id: str, actor):
    """Send an agency's final return back for amendment, with reasons (business team or CRG)."""
    payload = {"agency_id": agency_id, "reasons": body["reasons"]}
    result = _apply(actor, "request_amendment", case_id, payload, body.get("base_version"))
    if result["status"] == "conflict":
        raise _conflict(result)
    return result, 201
