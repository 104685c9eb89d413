"""The reconciled view of the agencies' rapid-review returns (GET /cases/{id}/agency-returns).

:func:`reconcile` is pure: from the case, each involved agency's return (the submission and its
revisions), the rapid-review clock, the final report and the referral it builds who was asked,
who returned what and when, one chronology merged across agencies, and where agencies disagree
(the child's date of birth and ethnicity, the family members). :func:`agency_returns_view` reads
those inputs from the store and applies access.

Which data is reconciled: each agency's latest *final* return. A draft is not a return yet; a
return sent back for amendment still counts as what the agency last said (its chronology rows
are marked ``provisional``) until the agency submits a final again.

Access. Coordinating roles of the owning partnership, and a lead reviewer assigned to the case
(who may already read every agency's return, see ``sync.access.can_see_submission``), get the
whole view. An agency user (practitioner or safeguarding lead of an involved or referring agency)
gets the view cut down to their own agency's line and chronology and no disagreements: the
agency must see whether its return is in, overdue or sent back and why, but data minimisation
(DOMAIN.md, Tenancy) keeps every other agency's data from it, and a disagreement is other
agencies' values by nature. A 403 would hide the one thing the agency must act on. Staff of an
invited partnership see the case but never an agency's return: 403. Anyone who cannot see the
case gets 404, as for the case itself. The values shown (dates of birth, names) are in the body
only; nothing here logs them or puts them in an error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sync import access
from sync.actor import Actor
from sync.audits import audit_read
from sync.context import REVISIONS, SUBMISSIONS, submission_id
from sync.problems import Problem

RETURN_FORM = "rapid_review_agency_return"
REPORT_FORM = "rapid_review_report"
REFERRAL_FORM = "crg_referral"
CLOCK = "rapid_review_report"  # the deadline whose being overdue makes a missing return overdue
REQUEST_STATE = "rapid_review"  # entering it is when the agencies were asked (1.1.18)
UNKNOWN_VALUES = frozenset({"", "not_known", "not_stated"})
AGENCY_SAVES = frozenset({"draft", "final"})


@dataclass(frozen=True)
class ReturnRecord:
    """One agency's return as stored: the submission document and its revisions, oldest first."""

    submission: Mapping[str, Any]
    version: int
    revisions: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


# -- the pure reconciliation ----------------------------------------------------------------------
def reconcile(case: Mapping[str, Any], returns: Mapping[str, ReturnRecord], *,
              clock: Mapping[str, Any] | None = None, report: Mapping[str, Any] | None = None,
              referral: Mapping[str, Any] | None = None,
              agency_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The whole view. ``clock`` is the rapid-review deadline as ``DeadlineStatus.to_dict()``."""
    names = agency_names or {}
    clock_overdue = bool(clock) and clock.get("status") == "overdue"
    explanation = (report or {}).get("omissions_explained") or None
    agencies, data_by_agency, provisional = [], {}, set()
    for agency in case.get("involved_agencies", ()):
        line = _agency_line(agency, returns.get(agency), clock_overdue, explanation)
        line["agency_name"] = names.get(agency)
        agencies.append(line)
        final = _latest_final(returns.get(agency))
        if final is not None:
            data_by_agency[agency] = final.get("data") or {}
            if line["status"] != "returned":
                provisional.add(agency)
    returned = [a["agency_id"] for a in agencies if a["status"] == "returned"]
    return {
        "case_id": case["case_id"],
        "reference": case.get("reference"),
        "state": case.get("state"),
        "requested_on": requested_on(case),
        "rapid_review_clock": {k: clock[k] for k in ("due", "status")} if clock else None,
        "summary": {"asked": len(agencies), "returned": len(returned),
                    "outstanding": [a["agency_id"] for a in agencies if a["status"] != "returned"],
                    "overdue": [a["agency_id"] for a in agencies if a["overdue"]]},
        "omissions_explained": explanation,
        "agencies": agencies,
        "chronology": merge_chronology(data_by_agency, provisional),
        "disagreements": disagreements(data_by_agency, referral),
    }


def requested_on(case: Mapping[str, Any]) -> str | None:
    return next((h.get("entered_on") for h in case.get("state_history", ()) if h.get("state") == REQUEST_STATE),
                None)


def _latest_final(record: ReturnRecord | None) -> Mapping[str, Any] | None:
    if record is None:
        return None
    return next((r for r in reversed(record.revisions) if r.get("status") == "final"), None)


def _agency_line(agency: str, record: ReturnRecord | None, clock_overdue: bool,
                 explanation: str | None) -> dict[str, Any]:
    line: dict[str, Any] = {"agency_id": agency, "status": "requested", "overdue": False, "submission_id": None,
                            "submission_version": None, "form_version": None, "returned_at": None,
                            "returned_by": None, "revisions": 0, "final_submissions": 0,
                            "amendment_request": None, "amendment_requests": 0, "omission_explained": None}
    if record is not None:
        sub = record.submission
        saves = [r for r in record.revisions if r.get("status") in AGENCY_SAVES]
        finals = [r for r in saves if r.get("status") == "final"]
        if sub.get("amendment_requested"):
            status = "returned_for_amendment"  # until the agency submits a final again
        else:
            status = "returned" if sub.get("status") == "final" else "draft"
        line.update({"status": status, "submission_id": sub.get("submission_id"), "submission_version": record.version,
                     "form_version": sub.get("form_version"), "revisions": len(saves),
                     "final_submissions": len(finals), "amendment_request": sub.get("amendment_requested"),
                     "amendment_requests": len(sub.get("amendment_requests", ()))})
        if finals:
            line.update({"returned_at": finals[-1].get("at"), "returned_by": finals[-1].get("by"),
                         "returned_form_version": finals[-1].get("form_version")})
    if line["status"] != "returned":
        line["overdue"] = clock_overdue
        line["omission_explained"] = explanation
    return line


# -- chronology -----------------------------------------------------------------------------------
CHRONOLOGY_FIELDS = ("contact_type", "contact_type_other", "practitioner_role", "summary", "child_seen")


def merge_chronology(data_by_agency: Mapping[str, Mapping[str, Any]],
                     provisional: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Every agency's chronology rows in one list, by date; ties by agency id, then the agency's
    own row order (a stable order, so the same returns always give the same list)."""
    rows = []
    for agency, data in data_by_agency.items():
        for index, row in enumerate(data.get("chronology") or ()):
            if not isinstance(row, Mapping):
                continue
            day = _iso_date(row.get("date"))
            entry = {"date": day or row.get("date"), "agency_id": agency, "row_id": row.get("row_id"),
                     **{k: row[k] for k in CHRONOLOGY_FIELDS if k in row}}
            if agency in provisional:
                entry["provisional"] = True
            rows.append(((day is None, day or "", agency, index), entry))
    rows.sort(key=lambda pair: pair[0])
    return [entry for _, entry in rows]


def _iso_date(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        return None


# -- disagreements --------------------------------------------------------------------------------
def disagreements(data_by_agency: Mapping[str, Mapping[str, Any]],
                  referral: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Where the agencies' final returns hold different values (compared normalised)."""
    child = {a: (d.get("child") or {}) for a, d in data_by_agency.items()}
    ref_child = (referral or {}).get("child") or {}
    out = []
    for name, norm in (("date_of_birth", _iso_date), ("ethnicity", _norm_code)):
        found = _single_value(f"child.{name}", {a: norm(c.get(name)) for a, c in child.items()},
                              norm(ref_child.get(name)))
        if found:
            out.append(found)
    family = _family(data_by_agency)
    if family:
        out.append(family)
    return out


def _norm_code(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().casefold()
    return None if code in UNKNOWN_VALUES else code


def _single_value(path: str, values: Mapping[str, str | None], referral_value: str | None) -> dict | None:
    groups: dict[str, list[str]] = {}
    for agency in sorted(values):
        if values[agency] is not None:
            groups.setdefault(values[agency], []).append(agency)
    if len(groups) < 2:
        return None
    ordered = sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))  # the most held value first
    return {"field": path,
            "values": [{"value": v, "agencies": a} for v, a in ordered],
            "not_recorded_by": sorted(a for a, v in values.items() if v is None),
            "referral_value": referral_value}


_RELATIONSHIP_SYNONYMS = {"mum": "mother", "mom": "mother", "mummy": "mother", "dad": "father", "daddy": "father",
                          "step mother": "stepmother", "step father": "stepfather", "nan": "grandmother",
                          "nanny": "grandmother", "grandma": "grandmother", "grandad": "grandfather",
                          "grandpa": "grandfather", "bro": "brother", "sis": "sister"}


def normalise_name(value: Any) -> str:
    """Case, spacing and punctuation do not make two people different ("adult  b." == "Adult B")."""
    text = re.sub(r"[^\w\s'-]", " ", str(value or "")).replace("'", "").casefold()
    return " ".join(text.replace("-", " ").split())


def normalise_relationship(value: Any) -> str:
    text = normalise_name(value)
    return _RELATIONSHIP_SYNONYMS.get(text, text)


def _family(data_by_agency: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Each agency's set of (name, relationship); a disagreement when the sets differ. The
    members list says, person by person, who lists them with which relationship and who not."""
    sets: dict[str, frozenset[tuple[str, str]]] = {}
    shown: dict[tuple[str, str], dict[str, str]] = {}
    for agency in sorted(data_by_agency):
        members = data_by_agency[agency].get("family_members")
        if not isinstance(members, list):
            continue
        pairs = set()
        for m in members:
            if isinstance(m, Mapping) and m.get("name"):
                key = (normalise_name(m["name"]), normalise_relationship(m.get("relationship")))
                pairs.add(key)
                shown.setdefault(key, {"name": str(m["name"]).strip(),
                                       "relationship": str(m.get("relationship") or "").strip()})
        sets[agency] = frozenset(pairs)
    if len(set(sets.values())) < 2:
        return None
    groups: dict[frozenset, list[str]] = {}
    for agency, pairs in sets.items():
        groups.setdefault(pairs, []).append(agency)
    values = [{"value": sorted((shown[p] for p in pairs), key=lambda s: (s["name"].casefold(), s["relationship"])),
               "agencies": agencies} for pairs, agencies in sorted(groups.items(), key=lambda g: (-len(g[1]), g[1]))]
    people: dict[str, dict[str, list[str]]] = {}
    for agency, pairs in sets.items():
        for name, rel in pairs:
            people.setdefault(name, {}).setdefault(rel, []).append(agency)
    members = []
    for name in sorted(people):
        by_rel = people[name]
        listed = sorted({a for agencies in by_rel.values() for a in agencies})
        if len(by_rel) == 1 and len(listed) == len(sets):
            continue  # every agency lists this person with the same relationship
        members.append({"name": shown[(name, next(iter(sorted(by_rel))))]["name"],
                        "relationships": [{"relationship": shown[(name, rel)]["relationship"], "agencies": agencies}
                                          for rel, agencies in sorted(by_rel.items())],
                        "not_listed_by": sorted(a for a in sets if a not in listed)})
    return {"field": "family_members", "values": values, "members": members}


def own_agency_only(view: Mapping[str, Any], agency: str | None) -> dict[str, Any]:
    """What an agency user sees: their own line and chronology rows; nothing of other agencies."""
    lines = [a for a in view["agencies"] if a["agency_id"] == agency]
    return {**view, "scope": "own_agency",
            "summary": {"asked": len(lines), "returned": sum(a["status"] == "returned" for a in lines),
                        "outstanding": [a["agency_id"] for a in lines if a["status"] != "returned"],
                        "overdue": [a["agency_id"] for a in lines if a["overdue"]]},
            "agencies": lines, "omissions_explained": None,
            "chronology": [e for e in view["chronology"] if e["agency_id"] == agency],
            "disagreements": []}


# -- reading it from the store --------------------------------------------------------------------
def sees_all_returns(actor: Actor, case: Mapping[str, Any]) -> bool:
    return access.is_home_staff(actor, case) or (
        actor.has_role(access.REVIEWER_ROLE) and actor.user_id in case.get("assigned_reviewers", ()))


def agency_returns_view(reader: Any, actor: Actor, case_id: str) -> dict[str, Any]:
    """The view for this caller (``reader`` is a :class:`sync.views.Reader`); the read is audited."""
    doc = reader.visible_case(actor, case_id)
    case = doc.data
    whole = sees_all_returns(actor, case)
    own = actor.partnership == case["partnership"] and bool(actor.agency) and actor.has_role(*access.AGENCY_ROLES)
    if not whole and not own:
        raise Problem(403, "agency-returns-not-shared",
                      "The agencies' returns are shared only within the case's own partnership.")
    store = reader.store
    returns = {}
    for agency in case.get("involved_agencies", ()):
        if not whole and agency != actor.agency:
            continue
        sub = store.get(SUBMISSIONS, submission_id(case["case_id"], RETURN_FORM, agency))
        if sub is not None:
            revisions = [r.data for n in range(1, sub.version + 1)
                         if (r := store.get(REVISIONS, f"{sub.id}@{n}")) is not None]
            returns[agency] = ReturnRecord(sub.data, sub.version, revisions)
    forms = reader.final_forms(case)
    clock = next((d for d in reader.deadlines(case, forms) if d["name"] == CLOCK), None)
    names = {}
    for agency in case.get("involved_agencies", ()):
        a = store.get("agencies", agency)
        names[agency] = a.data.get("name") if a else None
    view = reconcile(case, returns, clock=clock, report=forms.get(REPORT_FORM), referral=forms.get(REFERRAL_FORM),
                     agency_names=names)
    ct = reader.case_types.get(case["case_type"], case["case_type_version"])
    view["amendments_open"] = ct.form_open(RETURN_FORM, case["state"])
    view["scope"] = "all"
    audit_read(store, actor, case["case_id"], "agency_returns.read", **({} if whole else {"agency_id": actor.agency}))
    return view if whole else own_agency_only(view, actor.agency)
