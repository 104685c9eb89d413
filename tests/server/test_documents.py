"""Documents for the Panel over loopback HTTP, read back: the DOCX with python-docx, the PDF's text
with pypdf; the 1.1.22 headings, the form's content, the marking, the audit, and refusals."""

from __future__ import annotations

import io

import pytest
from docx import Document
from pypdf import PdfReader

from server.reports.documents import MARKING, RR_HEADINGS
from tests.server.partnership_cases import CHILD
from tests.support import assert_problem

BASE = "/api/v1/cases/{}/documents/"


@pytest.fixture(scope="module")
def site(partnership_site):
    return partnership_site


def _docx_text(content: bytes) -> tuple[list[str], str, str]:
    doc = Document(io.BytesIO(content))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    body = "\n".join(p.text for p in doc.paragraphs)
    body += "\n".join(c.text for t in doc.tables for row in t.rows for c in row.cells)
    header = doc.sections[0].header.paragraphs[0].text + doc.sections[0].footer.paragraphs[0].text
    return headings, body, header


def test_rapid_review_report_docx(site):
    case_id = site.cases["review"]
    business = site.client("esx.business")
    r = business.get(BASE.format(case_id) + "rapid-review-report.docx")
    assert r.status_code == 200 and "wordprocessingml" in r.headers["Content-Type"], r.text[:300]
    headings, body, marking = _docx_text(r.content)
    assert headings == list(RR_HEADINGS)
    assert marking == MARKING * 2
    assert "2023-04-02" in body and "Mixed white and black caribbean" in body  # date of birth, ethnicity
    assert "Adult B" in body and "Mother" in body  # the genogram table
    assert "University Hospitals Sussex" in body and "Sussex Police" in body  # agencies by name
    assert f"{CHILD} was admitted with a fractured arm." in body
    assert "How was bruising in a non-mobile child responded to?" in body  # key lines of enquiry
    assert "Seven-minute briefing to all agencies." in body
    entries = [e.entry for e in site.store.audit_log(subject=case_id) if e.entry["action"] == "document.generate"]
    assert entries[-1]["format"] == "docx" and entries[-1]["by"]["user_id"] == business.user["user_id"]
    assert CHILD not in str(entries)


def test_rapid_review_report_pdf(site):
    r = site.client("esx.crg").get(BASE.format(site.cases["review"]) + "rapid-review-report.pdf")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(r.content))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    for heading in RR_HEADINGS:
        assert heading in text, heading
    assert all(MARKING in page.extract_text() for page in pdf.pages)
    assert "Child A and Child E are with their grandmother under a safety plan." in text
    assert "Decision: Commission an LCSPR" in text


def test_delay_notice_both_formats(site):
    case_id = site.cases["overdue"]
    r = site.client("esx.business").get(BASE.format(case_id) + "delay-notice.docx")
    assert r.status_code == 200
    _, body, marking = _docx_text(r.content)
    assert "SIN notification to the National Panel" in body and "postponed" in body and MARKING in marking
    r = site.client("esx.business").get(BASE.format(case_id) + "delay-notice.pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "Reason for the delay" in text and "2026-03-04" in text and MARKING in text


def test_refusals(site):
    review = site.cases["review"]
    for fmt in ("docx", "pdf"):
        url = BASE.format(review) + f"rapid-review-report.{fmt}"
        assert_problem(site.client("wsx.business").get(url), 404)  # another partnership: not even seen
        assert_problem(site.client("esx.school-dsl").get(url), 403, "forbidden-role")  # involved agency
        assert_problem(site.client("esx.admin").get(url), 404)  # admins see no case content
    # no final report yet on the other case; no delay notice on this one
    assert_problem(site.client("esx.business").get(BASE.format(site.cases["overdue"]) + "rapid-review-report.pdf"),
                   409, "form-not-final")
    assert_problem(site.client("esx.business").get(BASE.format(review) + "delay-notice.docx"), 409)
    assert_problem(site.client("esx.business").get(BASE.format("no-such-case") + "delay-notice.docx"), 404)
