"""The documents sent to the National Panel, assembled from a case's final forms as a list of
blocks that server/reports/render.py writes as DOCX or PDF.

The rapid review report follows the contents the procedure lists at 1.1.22 (Pan-Sussex, December
2023), one heading each; the delay notice says which deadline was missed, why, and when the Panel
was told (1.1.21, 1.1.56). Both are marked OFFICIAL-SENSITIVE on every page. Coded answers are
shown in words; a section the forms leave empty says so rather than disappearing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MARKING = "OFFICIAL-SENSITIVE"
CODE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
NOT_RECORDED = "Not recorded."

# 1.1.22, in the procedure's order
RR_HEADINGS = (
    "1. The child: date of birth, gender, ethnicity and disability",
    "2. Family structure and relevant background",
    "3. Immediate safeguarding arrangements",
    "4. Agencies involved in the rapid review",
    "5. Summary of the facts",
    "6. Decision on a local child safeguarding practice review",
    "7. Key lines of enquiry",
    "8. Good practice",
    "9. Immediate learning and plans for its dissemination",
)

DECISIONS = {"commission_lcspr": "Commission an LCSPR", "no_lcspr": "No LCSPR"}


@dataclass
class Document:
    title: str
    subtitle: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("heading", text))

    def para(self, text: Any) -> None:
        self.blocks.append(("para", str(text) if text not in (None, "") else NOT_RECORDED))

    def facts(self, pairs: Sequence[tuple[str, Any]]) -> None:
        self.blocks.append(("facts", [(k, words(v)) for k, v in pairs]))

    def bullets(self, items: Sequence[Any]) -> None:
        if items:
            self.blocks.append(("bullets", [words(i) for i in items]))
        else:
            self.para(None)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.blocks.append(("table", (list(header), [[words(c) for c in r] for r in rows])))
        else:
            self.para(None)

    def text(self) -> str:
        """Every word of the document, in order (for tests and search)."""
        out = [MARKING, self.title, self.subtitle]
        for kind, body in self.blocks:
            if kind in ("heading", "para"):
                out.append(body)
            elif kind == "facts":
                out += [f"{k}: {v}" for k, v in body]
            elif kind == "bullets":
                out += body
            else:
                out += [" | ".join(body[0])] + [" | ".join(r) for r in body[1]]
        return "\n".join(out)


def words(value: Any) -> str:
    """A form value in words: codes humanised, booleans Yes/No, lists joined, empty 'Not recorded'."""
    if value is None or value == "" or value == []:
        return "Not recorded"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(words(v) for v in value)
    if isinstance(value, str) and CODE.fullmatch(value):  # an enum code, e.g. not_known
        return value.replace("_", " ").capitalize()
    return str(value)


def _age_or_dob(person: Mapping[str, Any]) -> str:
    if person.get("date_of_birth"):
        return str(person["date_of_birth"])
    if person.get("age_years") is not None:
        return f"aged {person['age_years']}"
    return "Not recorded"


def _health(person: Mapping[str, Any]) -> str:
    parts = [person.get("physical_or_mental_health"), person.get("disability_details")]
    text = "; ".join(p for p in parts if p)
    return text or words(person.get("disability"))


def rapid_review_report(case: Mapping[str, Any], report: Mapping[str, Any], partnership: str,
                        agency_names: Mapping[str, str]) -> Document:
    doc = Document("Rapid review report",
                   f"{partnership} - case {case['reference']} - report of {report.get('report_date') or 'undated'}")
    child = report.get("child") or {}
    doc.heading(RR_HEADINGS[0])
    doc.facts([("Date of birth", child.get("date_of_birth")), ("Sex", child.get("sex")),
               ("Gender", child.get("gender")), ("Ethnicity", child.get("ethnicity")),
               ("Known disability", child.get("disability")), ("Disability details", child.get("disability_details")),
               ("Looked after", child.get("looked_after")), ("Care leaver", child.get("care_leaver"))])
    doc.heading(RR_HEADINGS[1])
    doc.table(["Name", "Relationship", "Date of birth or age", "Health or disability", "Lives with the child"],
              [[p.get("name"), p.get("relationship"), _age_or_dob(p), _health(p), p.get("lives_with_child")]
               for p in report.get("genogram") or []])
    if report.get("domestic_abuse_mentioned"):
        doc.facts([("Domestic abuse mentioned", report.get("domestic_abuse_mentioned")),
                   ("Specialist domestic abuse service", report.get("domestic_abuse_service"))])
    doc.heading(RR_HEADINGS[2])
    doc.para(report.get("immediate_safeguarding"))
    doc.heading(RR_HEADINGS[3])
    agencies = report.get("agencies_involved") or case.get("involved_agencies") or []
    doc.bullets([agency_names.get(a, a) for a in agencies])
    doc.facts([("Every involved agency sent a return", report.get("all_agencies_responded"))])
    if report.get("omissions_explained"):
        doc.para(f"Omissions explained: {report['omissions_explained']}")
    doc.heading(RR_HEADINGS[4])
    doc.para(report.get("facts"))
    doc.heading(RR_HEADINGS[5])
    decision = DECISIONS.get(report.get("lcspr_decision"), report.get("lcspr_decision"))
    doc.facts([("Decision", decision), ("Criteria met", report.get("criteria_met"))]
              + ([("Partners agreed to commission it on", report["lcspr_agreed_on"])]
                 if report.get("lcspr_agreed_on") else []))
    doc.para(report.get("decision_reasoning"))
    doc.heading(RR_HEADINGS[6])
    if report.get("lcspr_decision") == "commission_lcspr":
        doc.bullets(report.get("key_lines_of_enquiry") or [])
    else:
        doc.para("Not applicable: no LCSPR is to be commissioned.")
    doc.heading(RR_HEADINGS[7])
    doc.para(report.get("good_practice"))
    doc.heading(RR_HEADINGS[8])
    doc.para(report.get("learning"))
    doc.facts([("Dissemination", report.get("dissemination")),
               ("Sent to the National Panel on", report.get("sent_to_panel_on"))])
    return doc


def delay_notice(case: Mapping[str, Any], notice: Mapping[str, Any], partnership: str,
                 clock_titles: Mapping[str, str]) -> Document:
    doc = Document("Notice of delay to the National Child Safeguarding Practice Review Panel",
                   f"{partnership} - case {case['reference']}")
    doc.heading("Deadline affected")
    doc.facts([("Deadline", clock_titles.get(notice.get("deadline", ""), notice.get("deadline"))),
               ("Was due on", notice.get("due_date")), ("Now expected by", notice.get("revised_date")),
               ("Panel informed on", notice.get("panel_informed_on"))])
    doc.heading("Reason for the delay")
    doc.para(notice.get("reason"))
    return doc
