"""Read models for the partnership's oversight: every open case's clocks, a case's timeline, the
agencies' returns across cases, and a case's audit trail with people's names.

Who (least privilege): the business team, answerable for every statutory deadline, and the CRG,
who analyse the returns; statutory leads and the LA Head of Safeguarding also see the dashboard and
timelines (they oversee decisions, 1.1.21, and hold the SIN duty, 1.1.16). The audit trail with
names is for the business team and the CRG only. Every list is of the cases the caller may see
(``sync.access``), so an invited partnership's staff see that case read-only and nothing else.

Nothing here writes a name into a log or an error; names appear only in the audit-trail body.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from statemachines.calendar import working_days_between
from sync import access
from sync.actor import Actor
from sync.agency_returns import CLOCK, RETURN_FORM, ReturnRecord, reconcile
from sync.audits import audit_read
from sync.context import CASES, REVISIONS, SUBMISSIONS, submission_id
from sync.problems import Problem

OVERSIGHT_ROLES = frozenset({"business_team", "crg_member", "statutory_lead", "la_head_of_safeguarding"})
TRAIL_ROLES = frozenset({"business_team", "crg_member"})
RUNNING = ("overdue", "due_soon", "pending")
_NO_CLOCK = 10**6  # cases without a running clock sort last
SYSTEM_NAMES = {"operator": "caseflow operator (command line)", "system": "caseflow"}


def require(actor: Actor, roles: frozenset[str], what: str) -> None:
    if not actor.has_role(*roles):
        raise Problem(403, "forbidden-role", f"{what} is for the roles: {', '.join(sorted(roles))}.")


def clock_rows(reader: Any, case: Mapping[str, Any], today: dt.date) -> list[dict[str, Any]]:
    """Each clock of the case with its working days left (negative when overdue; None once stopped)."""
    rows = []
    for d in reader.deadlines(case, today=today):
        due = dt.date.fromisoformat(d["due"])
        left = working_days_between(today, due) if d["status"] in RUNNING else None
        rows.append({**d, "working_days_left": left})
    return rows


def urgency(clocks: list[dict[str, Any]]) -> int:
    running = [c["working_days_left"] for c in clocks if c["working_days_left"] is not None]
    return min(running) if running else _NO_CLOCK


def is_open(reader: Any, case: Mapping[str, Any]) -> bool:
    ct = reader.case_types.get(case["case_type"], case["case_type_version"])
    return not ct.is_final(case["state"])


def visible_cases(reader: Any, actor: Actor) -> Iterator[Any]:
    """Every case the actor may see, one document at a time (the store scans lazily)."""
    return reader.store.scan(CASES, lambda c: access.can_see_case(actor, c))


def case_row(reader: Any, doc: Any, today: dt.date) -> dict[str, Any]:
    case = doc.data
    clocks = clock_rows(reader, case, today)
    return {"case_id": case["case_id"], "reference": case["reference"], "case_type": case["case_type"],
            "state": case["state"], "partnership": case["partnership"], "opened_on": case["created_at"][:10],
            "state_entered_on": case["state_history"][-1]["entered_on"], "clocks": clocks,
            "involved_agencies": list(case.get("involved_agencies", ())),
            "overdue": any(c["status"] == "overdue" for c in clocks),
            "due_soon": any(c["status"] == "due_soon" for c in clocks)}


def dashboard(reader: Any, actor: Actor) -> dict[str, Any]:
    require(actor, OVERSIGHT_ROLES, "The oversight dashboard")
    today = reader.clock.today()
    rows = [case_row(reader, doc, today) for doc in visible_cases(reader, actor) if is_open(reader, doc.data)]
    rows.sort(key=lambda r: (urgency(r["clocks"]), r["reference"]))
    clocks = [c for r in rows for c in r["clocks"]]
    return {"today": today.isoformat(), "open_cases": len(rows),
            "counts": {"cases_overdue": sum(r["overdue"] for r in rows),
                       "cases_due_soon": sum(r["due_soon"] and not r["overdue"] for r in rows),
                       "clocks_overdue": sum(c["status"] == "overdue" for c in clocks),
                       "clocks_due_soon": sum(c["status"] == "due_soon" for c in clocks)},
            "cases": rows}


def timeline(reader: Any, actor: Actor, case_id: str) -> dict[str, Any]:
    """States entered and each clock (start, due, stop): dates, ids and titles only."""
    require(actor, OVERSIGHT_ROLES, "A case timeline")
    doc = reader.visible_case(actor, case_id)
    case = doc.data
    today = reader.clock.today()
    return {"case_id": case["case_id"], "reference": case["reference"], "case_type": case["case_type"],
            "today": today.isoformat(),
            "states": [{"state": h["state"], "entered_on": h["entered_on"]} for h in case["state_history"]],
            "clocks": clock_rows(reader, case, today)}


def returns_tracker(reader: Any, actor: Actor) -> dict[str, Any]:
    """Across open cases: who was asked for a rapid-review return, who returned, who is late, and what
    was sent back for amendment. Only cases whose returns the caller may read in full."""
    require(actor, TRAIL_ROLES, "The agency-returns tracker")
    store, out = reader.store, []
    names = {d.id: d.data.get("name") for d in store.scan("agencies", lambda a: a["partnership"] == actor.partnership)}
    for doc in visible_cases(reader, actor):
        case = doc.data
        if not case.get("involved_agencies") or not access.is_home_staff(actor, case) or not is_open(reader, case):
            continue
        returns = {}
        for agency in case["involved_agencies"]:
            sub = store.get(SUBMISSIONS, submission_id(case["case_id"], RETURN_FORM, agency))
            if sub is not None:
                revisions = [r.data for n in range(1, sub.version + 1)
                             if (r := store.get(REVISIONS, f"{sub.id}@{n}")) is not None]
                returns[agency] = ReturnRecord(sub.data, sub.version, revisions)
        clock = next((d for d in reader.deadlines(case) if d["name"] == CLOCK), None)
        view = reconcile(case, returns, clock=clock, agency_names=names)
        out.append({k: view[k] for k in ("case_id", "reference", "state", "requested_on", "rapid_review_clock",
                                         "summary")}
                   | {"agencies": [{k: a.get(k) for k in ("agency_id", "agency_name", "status", "overdue",
                                                           "returned_at", "amendment_request", "amendment_requests")}
                                   for a in view["agencies"]]})
    out.sort(key=lambda c: (-len(c["summary"]["overdue"]), -len(c["summary"]["outstanding"]), c["reference"]))
    totals = {"cases": len(out), "asked": sum(c["summary"]["asked"] for c in out),
              "returned": sum(c["summary"]["returned"] for c in out),
              "late": sum(len(c["summary"]["overdue"]) for c in out),
              "sent_back": sum(1 for c in out for a in c["agencies"] if a["status"] == "returned_for_amendment")}
    _audit(reader, actor, "oversight.returns_read", [c["case_id"] for c in out])
    return {"totals": totals, "cases": out}


def audit_trail(reader: Any, actor: Actor, case_id: str) -> dict[str, Any]:
    """The case's history (``Reader.history``: what this caller may see of it) with each actor's
    display name, for the business team and the CRG."""
    require(actor, TRAIL_ROLES, "The audit trail with names")
    doc = reader.visible_case(actor, case_id)
    if not access.is_home_staff(actor, doc.data):
        raise Problem(403, "trail-not-shared", "A case's audit trail is shared only within its own partnership.")
    entries = reader.history(actor, case_id)
    names: dict[str, str | None] = {}
    for e in entries:
        uid = e.get("by")
        if uid and uid not in names:
            person = reader.store.get("directory", uid)
            names[uid] = person.data.get("display_name") if person else SYSTEM_NAMES.get(uid)
        e["by_name"] = names.get(uid) if uid else None
    _audit(reader, actor, "oversight.trail_read", [case_id])
    return {"case_id": case_id, "reference": doc.data["reference"], "entries": entries}


def _audit(reader: Any, actor: Actor, action: str, case_ids: list[str]) -> None:
    audit_read(reader.store, actor, case_ids, action)


def panel_form(reader: Any, actor: Actor, case_id: str, form_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(case, the form's latest final data) for a document sent to the Panel: the case's own
    partnership's coordinating roles only (404 when the case is not visible, 403 otherwise, 409
    while the form has no final submission)."""
    case = reader.visible_case(actor, case_id).data
    if not access.is_home_staff(actor, case):
        raise Problem(403, "forbidden-role", "Documents for the Panel are for the case's own partnership's "
                                             "business team, CRG, statutory leads and scrutineer.")
    form = reader.final_forms(case).get(form_id)
    if form is None:
        raise Problem(409, "form-not-final", f"The case has no final {form_id} form yet.")
    return case, form


def audit_document(reader: Any, actor: Actor, case_id: str, document: str, fmt: str) -> None:
    audit_read(reader.store, actor, case_id, "document.generate", document=document, format=fmt)
