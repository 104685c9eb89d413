"""GET /api/v1/exports/cases.csv, /api/v1/exports/cases.xlsx and /api/v1/exports/deadlines.csv.

Scoped like every read (the cases the caller may see), for the oversight roles, audited before the
first byte leaves, and streamed (server/reports/exports.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema

from server.auth.tokens import auth_required
from server.reports import exports as files
from server.resources.common import BEARER, ProblemSchema, services
from sync import oversight
from sync.actor import Actor
from sync.audits import audit_read

blp = Blueprint("exports", __name__, url_prefix="/api/v1/exports",
                description="Exports of cases and deadlines (CSV, XLSX), streamed")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_RANGE_DAYS = 366 * 3


class CasesQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    state = fields.Str(metadata={"description": "only cases in this state"})
    opened_from = fields.Date(metadata={"description": "only cases opened on or after this date"})
    opened_to = fields.Date(metadata={"description": "only cases opened on or before this date"})
    open_only = fields.Bool(load_default=False, metadata={"description": "leave out closed/concluded cases"})


class DeadlinesQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    start = fields.Date(data_key="from", metadata={"description": "first due date (default: today)"})
    end = fields.Date(data_key="to", metadata={"description": "last due date (default: 90 days after from)"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("start"), data.get("end")
        for key, day in (("from", start), ("to", end)):
            if day is not None and not 2000 <= day.year <= 2100:
                raise ValidationError("Use a date from 2000 to 2100.", key)
        if start and end and end < start:
            raise ValidationError("to must not be before from.", "to")
        if start and end and (end - start).days > MAX_RANGE_DAYS:
            raise ValidationError(f"The range is at most {MAX_RANGE_DAYS} days.", "to")


def _problems(fn):
    for code in (401, 403, 422):
        fn = blp.alt_response(code, schema=ProblemSchema, content_type="application/problem+json",
                              description=f"problem+json ({code})")(fn)
    return fn


def _rows(actor: Actor, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
    reader = services().reader
    today = reader.clock.today()
    for doc in oversight.visible_cases(reader, actor):
        case = doc.data
        opened = case["created_at"][:10]
        if query.get("state") and case["state"] != query["state"]:
            continue
        if query.get("opened_from") and opened < query["opened_from"].isoformat():
            continue
        if query.get("opened_to") and opened > query["opened_to"].isoformat():
            continue
        if query.get("open_only") and not oversight.is_open(reader, case):
            continue
        yield oversight.case_row(reader, doc, today)


def _clock_names() -> list[str]:
    names: dict[str, None] = {}
    for ct in services().case_types.case_types():
        for d in ct.describe().get("deadlines", []):
            names.setdefault(d["name"], None)
    return list(names)


def _agency_names() -> dict[str, str]:
    return {d.id: d.data.get("name") or d.id for d in services().store.scan("agencies")}


def _start(actor: Actor, what: str, query: dict[str, Any]) -> None:
    """Check the role, then audit the export (what was asked, by whom) before any of it leaves."""
    oversight.require(actor, oversight.OVERSIGHT_ROLES, "Exports")
    params = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in query.items()}
    audit_read(services().store, actor, None, "export", export=what, params=params)


def _download(body: Any, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/cases.csv", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(CasesQuery, location="query")
@blp.response(200, content_type="text/csv", description="one row per case: reference, type, state, dates, clocks")
@_problems
@auth_required
def cases_csv(query, actor: Actor):
    """Every case you may see, one row each, with each clock's due date, status and working days left."""
    _start(actor, "cases.csv", query)
    names, agencies = _clock_names(), _agency_names()
    records = (files.case_record(r, names, agencies) for r in _rows(actor, query))
    return _download(stream_with_context(files.csv_chunks(files.case_columns(names), records)),
                     "text/csv", "cases.csv")


@blp.route("/cases.xlsx", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(CasesQuery, location="query")
@blp.response(200, content_type=XLSX, description="the same rows as cases.csv, as a workbook")
@_problems
@auth_required
def cases_xlsx(query, actor: Actor):
    """The cases export as an Excel workbook (written row by row in openpyxl's write-only mode)."""
    _start(actor, "cases.xlsx", query)
    names, agencies = _clock_names(), _agency_names()
    fh = files.xlsx_file("cases", files.case_columns(names), (files.case_record(r, names, agencies)
                                                              for r in _rows(actor, query)))
    return _download(files.file_chunks(fh), XLSX, "cases.xlsx")


@blp.route("/deadlines.csv", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(DeadlinesQuery, location="query")
@blp.response(200, content_type="text/csv", description="one row per clock due in the range")
@_problems
@auth_required
def deadlines_csv(query, actor: Actor):
    """Every clock of the cases you may see whose due date is in the range (``from``, ``to``)."""
    start = query.get("start") or services().clock.today()
    end = query.get("end") or start + dt.timedelta(days=90)
    _start(actor, "deadlines.csv", {"from": start, "to": end})
    records = (rec for row in _rows(actor, {}) for rec in files.deadline_records(row, start, end))
    return _download(stream_with_context(files.csv_chunks(files.DEADLINE_COLUMNS, records)),
                     "text/csv", "deadlines.csv")
