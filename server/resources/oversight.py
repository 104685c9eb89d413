"""Oversight for the business team and the CRG (sync/oversight.py says who sees what):
GET /api/v1/oversight/dashboard, /api/v1/oversight/agency-returns,
/api/v1/cases/{id}/timeline (JSON), /api/v1/cases/{id}/timeline.svg, /api/v1/cases/{id}/audit-trail."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from server.auth.tokens import auth_required
from server.reports.timeline_svg import render
from server.resources.common import BEARER, ProblemSchema, services
from sync import oversight
from sync.actor import Actor

blp = Blueprint("oversight", __name__, url_prefix="/api/v1",
                description="Oversight: every clock across cases, timelines, agency returns, audit trails")


class Clock(Schema):
    name = fields.Str()
    title = fields.Str()
    starts = fields.Str()
    due = fields.Str()
    status = fields.Str(metadata={"description": "pending, due_soon, overdue, met or missed"})
    stopped_on = fields.Str(allow_none=True)
    working_days_left = fields.Int(allow_none=True, metadata={
        "description": "working days from today to the due date (negative: overdue); null once stopped"})


class CaseRow(Schema):
    case_id = fields.Str()
    reference = fields.Str()
    case_type = fields.Str()
    state = fields.Str()
    partnership = fields.Str()
    opened_on = fields.Str()
    state_entered_on = fields.Str()
    overdue = fields.Bool()
    due_soon = fields.Bool()
    involved_agencies = fields.List(fields.Str())
    clocks = fields.List(fields.Nested(Clock))


class Counts(Schema):
    cases_overdue = fields.Int()
    cases_due_soon = fields.Int()
    clocks_overdue = fields.Int()
    clocks_due_soon = fields.Int()


class Dashboard(Schema):
    today = fields.Str()
    open_cases = fields.Int()
    counts = fields.Nested(Counts)
    cases = fields.List(fields.Nested(CaseRow), metadata={"description": "most urgent first"})


class StateEntry(Schema):
    state = fields.Str()
    entered_on = fields.Str()


class Timeline(Schema):
    case_id = fields.Str()
    reference = fields.Str()
    case_type = fields.Str()
    today = fields.Str()
    states = fields.List(fields.Nested(StateEntry))
    clocks = fields.List(fields.Nested(Clock))


class AgencyLine(Schema):
    agency_id = fields.Str()
    agency_name = fields.Str(allow_none=True)
    status = fields.Str(metadata={"description": "requested, draft, returned or returned_for_amendment"})
    overdue = fields.Bool()
    returned_at = fields.Str(allow_none=True)
    amendment_request = fields.Dict(allow_none=True, metadata={"description": "what was sent back, by whom"})
    amendment_requests = fields.Int()


class ReturnsCase(Schema):
    case_id = fields.Str()
    reference = fields.Str()
    state = fields.Str()
    requested_on = fields.Str(allow_none=True)
    rapid_review_clock = fields.Dict(allow_none=True)
    summary = fields.Dict()
    agencies = fields.List(fields.Nested(AgencyLine))


class ReturnsTracker(Schema):
    totals = fields.Dict()
    cases = fields.List(fields.Nested(ReturnsCase))


class TrailEntry(Schema):
    n = fields.Int()
    at = fields.Str()
    action = fields.Str()
    by = fields.Str(allow_none=True)
    by_name = fields.Str(allow_none=True)
    roles = fields.List(fields.Str(), allow_none=True)
    device_id = fields.Str(allow_none=True)
    what = fields.Dict()


class Trail(Schema):
    case_id = fields.Str()
    reference = fields.Str()
    entries = fields.List(fields.Nested(TrailEntry))


def problems(*codes: int):
    def decorate(fn):
        for code in codes:
            fn = blp.alt_response(code, schema=ProblemSchema, content_type="application/problem+json",
                                  description=f"problem+json ({code})")(fn)
        return fn
    return decorate


@blp.route("/oversight/dashboard", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, Dashboard)
@problems(401, 403)
@auth_required
def dashboard(actor: Actor):
    """Every open case you may see with each clock's due date, working days left and status, most
    urgent first, with overdue and due-soon counts."""
    return oversight.dashboard(services().reader, actor)


@blp.route("/oversight/agency-returns", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, ReturnsTracker)
@problems(401, 403)
@auth_required
def agency_returns(actor: Actor):
    """Across open cases: who was asked for a return, who returned, who is late, what was sent back."""
    return oversight.returns_tracker(services().reader, actor)


@blp.route("/cases/<string:case_id>/timeline", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, Timeline)
@problems(401, 403, 404)
@auth_required
def timeline(case_id: str, actor: Actor):
    """States entered and each clock (start, due, met or missed) as data."""
    return oversight.timeline(services().reader, actor, case_id)


@blp.route("/cases/<string:case_id>/timeline.svg", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, content_type="image/svg+xml", description="the timeline chart (no personal data)")
@problems(401, 403, 404)
@auth_required
def timeline_svg(case_id: str, actor: Actor):
    """The case's timeline as an SVG chart: states entered, each clock from start to due to met or missed."""
    svg = render(oversight.timeline(services().reader, actor, case_id))
    return Response(svg, mimetype="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@blp.route("/cases/<string:case_id>/audit-trail", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, Trail)
@problems(401, 403, 404)
@auth_required
def audit_trail(case_id: str, actor: Actor):
    """The case's audit trail with each person's display name (business team and CRG of the case's partnership)."""
    return oversight.audit_trail(services().reader, actor, case_id)
