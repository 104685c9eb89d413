"""GET /api/v1/cases/{id}/documents/rapid-review-report.docx|.pdf and delay-notice.docx|.pdf:
the documents sent to the National Panel, assembled from the case's final forms, marked
OFFICIAL-SENSITIVE, their generation audited before the file leaves."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from server.auth.tokens import auth_required
from server.reports import documents, render
from server.resources.common import BEARER, ProblemSchema, services
from sync import oversight
from sync.actor import Actor

blp = Blueprint("documents", __name__, url_prefix="/api/v1/cases",
                description="Documents for the National Panel (DOCX, PDF)")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FORMATS = {"docx": (DOCX, render.docx_bytes), "pdf": ("application/pdf", render.pdf_bytes)}


def _problems(fn):
    for code in (401, 403, 404, 409):
        fn = blp.alt_response(code, schema=ProblemSchema, content_type="application/problem+json",
                              description=f"problem+json ({code})")(fn)
    return fn


def _partnership_name(partnership: str) -> str:
    doc = services().store.get("partnerships", partnership)
    return (doc.data.get("name") if doc else None) or partnership


def _send(actor: Actor, case_id: str, name: str, fmt: str, doc: documents.Document) -> Response:
    mimetype, writer = FORMATS[fmt]
    body = writer(doc)
    oversight.audit_document(services().reader, actor, case_id, name, fmt)
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


def _report(case_id: str, fmt: str, actor: Actor) -> Response:
    reader = services().reader
    case, form = oversight.panel_form(reader, actor, case_id, "rapid_review_report")
    names = {d.id: d.data.get("name") or d.id
             for d in services().store.scan("agencies", lambda a: a["partnership"] == case["partnership"])}
    doc = documents.rapid_review_report(case, form, _partnership_name(case["partnership"]), names)
    return _send(actor, case_id, "rapid-review-report", fmt, doc)


def _notice(case_id: str, fmt: str, actor: Actor) -> Response:
    reader = services().reader
    case, form = oversight.panel_form(reader, actor, case_id, "delay_notice")
    titles = {d["name"]: d["title"] for d in reader.deadlines(case)}
    doc = documents.delay_notice(case, form, _partnership_name(case["partnership"]), titles)
    return _send(actor, case_id, "delay-notice", fmt, doc)


def _route(path: str, handler, fmt: str, summary: str):
    mimetype = FORMATS[fmt][0]

    @auth_required
    def view(case_id: str, actor: Actor):
        return handler(case_id, fmt, actor)

    view.__name__ = f"{handler.__name__.strip('_')}_{fmt}"
    view.__doc__ = summary
    view = _problems(view)
    view = blp.response(200, content_type=mimetype, description=f"the {fmt.upper()} file")(view)
    view = blp.doc(security=BEARER)(view)
    blp.route(path, methods=["GET"])(view)


for _fmt in FORMATS:
    _route(f"/<string:case_id>/documents/rapid-review-report.{_fmt}", _report, _fmt,
           "The rapid review report for the National Panel, with the contents 1.1.22 lists, from the case's "
           "final rapid_review_report form (OFFICIAL-SENSITIVE).")
    _route(f"/<string:case_id>/documents/delay-notice.{_fmt}", _notice, _fmt,
           "The notice of delay for the National Panel, from the case's final delay_notice form "
           "(OFFICIAL-SENSITIVE).")
