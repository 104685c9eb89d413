"""Read models: what a caller may see of cases, forms, deadlines and history.

Every read goes through :mod:`sync.access`; reads of a case's full record are audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from forms.registry import FormRegistry
from statemachines.approvals import approval_status, eligible_slots
from statemachines.calendar import working_days_between
from statemachines.values import Actor as EngineActor
from store import Store, UnitOfWork
from sync import access
from sync.actor import Actor
from sync.audits import audit_read, refusal_entry
from sync.clock import Clock
from sync.context import (
    ALERTS,
    CASES,
    CONFLICTS,
    REVISIONS,
    SUBMISSIONS,
    engine_context,
    final_forms,
    per_agency,
    submission_id,
    timeline,
)
from sync.links import LINKED_IDS, clock_forms, links_view
from sync.problems import Problem


class _UnitReads:
    """The reads a :class:`Reader` makes, answered by a unit of work (its own writes included)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.get = uow.get


class Reader:
    def __init__(self, store: Store, forms: FormRegistry, case_types: Any, clock: Clock):
        self.store = store
        self.forms = forms
        self.case_types = case_types
        self.clock = clock

    # -- shared --------------------------------------------------------------------------------
    def visible_case(self, actor: Actor, case_id: str) -> Any:
        doc = self.store.get(CASES, case_id)
        if doc is None or not access.can_see_case(actor, doc.data):
            problem = Problem(404, "case-not-found", "There is no case with this id that you can see.")
            if hasattr(self.store, "transaction"):  # a refused read leaves a trace (ids only)
                with self.store.transaction() as uow:
                    entry = refusal_entry(actor, actor.device_id, case_id, "read", problem.to_dict())
                    uow.audit(entry, subject=entry["case_id"])
            raise problem
        return doc

    def case_view_in(self, uow: UnitOfWork, actor: Actor, case_id: str) -> dict[str, Any]:
        """:meth:`case_view` as the unit of work ``uow`` sees the case (a write's answer), its read
        audited in that unit: recorded with the write, it is what a replay answers."""
        view = Reader(_UnitReads(uow), self.forms, self.case_types, self.clock).case_view(actor, case_id, audit=False)
        audit_read(uow, actor, case_id)
        return view

    def final_forms(self, case: Mapping[str, Any]) -> dict[str, Any]:
        return final_forms(case, lambda sub_id: self.store.get(SUBMISSIONS, sub_id))

    @staticmethod
    def returns_context(case: Mapping[str, Any]) -> dict[str, Any]:
        return engine_context(case)

    def timeline(self, case: Mapping[str, Any]) -> Any:
        return timeline(case, lambda sub_id: self.store.get(SUBMISSIONS, sub_id))

    def deadlines(self, case: Mapping[str, Any], forms: Mapping[str, Any] | None = None,
                  today: dt.date | None = None) -> list[dict[str, Any]]:
        ct = self.case_types.get(case["case_type"], case["case_type_version"])
        history = [(h["state"], dt.date.fromisoformat(h["entered_on"])) for h in case["state_history"]]
        forms = clock_forms(case, self.final_forms(case) if forms is None else forms)
        today = today or self.clock.today()
        return [_with_days_left(d.to_dict(), today) for d in ct.deadlines(forms, history, today)]

    # -- cases ---------------------------------------------------------------------------------
    def case_summary(self, actor: Actor, doc: Any, deadlines: list[dict] | None = None) -> dict[str, Any]:
        case = doc.data
        return {
            "case_id": case["case_id"], "reference": case["reference"], "case_type": case["case_type"],
            "case_type_version": case["case_type_version"], "partnership": case["partnership"],
            "state": case["state"], "version": doc.version, "created_at": case["created_at"],
            "updated_at": case["updated_at"],
            "deadlines": deadlines if deadlines is not None else self.deadlines(case),
        }

    def case_view(self, actor: Actor, case_id: str, audit: bool = True) -> dict[str, Any]:
        doc = self.visible_case(actor, case_id)
        case = doc.data
        ct = self.case_types.get(case["case_type"], case["case_type_version"])
        forms = self.final_forms(case)
        context = self.returns_context(case)
        engine_actor = EngineActor(actor.roles, actor.sector)
        writable = access.can_write_case(actor, case)
        allowed, blocked = [], []
        if writable:
            for decision in ct.evaluate_all(case["state"], engine_actor, forms, context, self.timeline(case)):
                if decision.allowed:
                    allowed.append(decision.event)
                else:
                    blocked.append({"event": decision.event, "reasons": decision.reasons})
        view = self.case_summary(actor, doc, self.deadlines(case, forms))
        view.update({
            "allowed_events": allowed,
            "blocked_events": blocked,
            "forms": self._open_forms(actor, case, ct) if writable else [],
            "submissions": self._visible_submissions(actor, case),
            "involved_agencies": case["involved_agencies"],
            "assigned_reviewers": case["assigned_reviewers"],
            "invited_partnerships": case["invited_partnerships"],
            "pending_approvals": self._pending(actor, case, ct, forms, context),
            "tasks": ct.task_view(case["state"], engine_actor, forms, context),
            "last_rejection": case.get("last_rejection"),
            "open_conflicts": self._open_conflicts(actor, case),
            "state_history": [{k: h[k] for k in ("state", "entered_at", "event")} for h in case["state_history"]],
            "links": self.links(actor, case),
        })
        if audit:
            audit_read(self.store, actor, case_id)
        return view

    def links(self, actor: Actor, case: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The case's linked cases as this actor may see them (:func:`sync.links.links_view`)."""
        def audience(case_id: str) -> Any:
            doc = self.store.get(CASES, case_id)
            return doc.data if doc is not None else None

        return links_view(actor, case, audience)

    def _may_see(self, actor: Actor, case_id: Any) -> bool:
        doc = self.store.get(CASES, case_id) if isinstance(case_id, str) else None
        return doc is not None and access.can_see_case(actor, doc.data)

    def _open_forms(self, actor: Actor, case: Mapping[str, Any], ct: Any) -> list[dict[str, Any]]:
        out = []
        for form_id, _roles in ct.open_forms(case["state"], actor.roles):
            agency = None
            if per_agency(self.forms, form_id):
                if not actor.agency or actor.agency not in case["involved_agencies"]:
                    continue
                agency = actor.agency
            sub = self.store.get(SUBMISSIONS, submission_id(case["case_id"], form_id, agency))
            latest = self.forms.latest(form_id).version
            out.append({
                "form_id": form_id,
                "version": sub.data["form_version"] if sub else latest,
                "latest_version": latest,
                "status": sub.data["status"] if sub else "not_started",
                "submission_id": sub.id if sub else None,
                "submission_version": sub.version if sub else None,
                "agency_id": agency,
            })
        return out

    def _visible_submissions(self, actor: Actor, case: Mapping[str, Any]) -> list[dict[str, Any]]:
        out = []
        for sub_id, meta in case.get("submissions", {}).items():
            if access.can_see_submission(actor, case, meta):
                doc = self.store.get(SUBMISSIONS, sub_id)
                if doc:
                    out.append(self.submission_view(doc))
        return out

    @staticmethod
    def submission_view(doc: Any) -> dict[str, Any]:
        s = doc.data
        return {"submission_id": doc.id, "form_id": s["form_id"], "form_version": s["form_version"],
                "agency_id": s["agency_id"], "status": s["status"], "version": doc.version, "data": s["data"],
                "updated_at": s["updated_at"], "updated_by": s["updated_by"],
                "open_conflicts": s.get("open_conflicts", []),
                "amendment_requested": s.get("amendment_requested"),
                "amendment_requests": s.get("amendment_requests", [])}

    def _pending(self, actor: Actor, case: Mapping[str, Any], ct: Any, forms, context) -> dict[str, Any] | None:
        pending = case.get("pending")
        if not pending:
            return None
        from statemachines.values import Vote

        slots = ct.approval_slots(case["state"], pending["event"], forms, context, self.timeline(case))
        votes = [Vote(v["role"], v["sector"], v["decision"], v["voter"]) for v in pending["votes"]]
        status = approval_status(slots, votes)
        voted = any(v["voter"] == actor.user_id for v in pending["votes"])
        can_vote = (not voted and access.can_write_case(actor, case)
                    and bool(eligible_slots(status.missing, EngineActor(actor.roles, actor.sector))))
        return {"event": pending["event"], "target": pending["target"], "requested_at": pending["requested_at"],
                **status.to_dict(), "you_can_vote": can_vote}

    def _open_conflicts(self, actor: Actor, case: Mapping[str, Any]) -> list[dict[str, Any]]:
        out = []
        for sub_id, meta in case.get("submissions", {}).items():
            if not access.can_see_submission(actor, case, meta):
                continue
            sub = self.store.get(SUBMISSIONS, sub_id)
            for cid in (sub.data.get("open_conflicts", []) if sub else []):
                c = self.store.get(CONFLICTS, cid)
                if c:
                    out.append(conflict_view(c))
        return out

    def revisions(self, actor: Actor, case_id: str, sub_id: str) -> dict[str, Any]:
        """Every revision of one form of the case, oldest first; seen exactly as the form itself is
        (another agency's return is 404, like a form that does not exist), and audited as a read."""
        case = self.visible_case(actor, case_id).data
        meta = case.get("submissions", {}).get(sub_id)
        sub = self.store.get(SUBMISSIONS, sub_id) if meta is not None else None
        if sub is None or not access.can_see_submission(actor, case, meta):
            raise Problem(404, "submission-not-found", "There is no form with this id on this case that you can see.")
        out = []
        for v in range(1, sub.version + 1):
            rev = self.store.get(REVISIONS, f"{sub_id}@{v}")
            if rev is not None:
                out.append({k: rev.data.get(k) for k in ("revision", "status", "form_version", "at", "by",
                                                         "device_id", "data")})
        # ids only; agency_id lets history hide it from other agencies
        audit_read(self.store, actor, case_id, submission_id=sub_id, read="revisions", agency_id=sub.data["agency_id"])
        return {"case_id": case_id, "submission_id": sub_id, "form_id": sub.data["form_id"],
                "agency_id": sub.data["agency_id"], "version": sub.version, "revisions": out}

    def list_cases(self, actor: Actor, state: str | None = None, overdue: bool | None = None) -> list[dict]:
        out = []
        for doc in self.store.scan(CASES, lambda c: access.can_see_case(actor, c)):
            if state is not None and doc.data["state"] != state:
                continue
            summary = self.case_summary(actor, doc)
            is_overdue = any(d["status"] == "overdue" for d in summary["deadlines"])
            if overdue is not None and is_overdue != overdue:
                continue
            out.append(summary)
        out.sort(key=lambda c: c["created_at"])
        # summaries are case data too: one read entry per case listed, one commit
        audit_read(self.store, actor, [case["case_id"] for case in out], read="list")
        return out

    def history(self, actor: Actor, case_id: str) -> list[dict[str, Any]]:
        doc = self.visible_case(actor, case_id)
        case = doc.data
        full = access.is_home_staff(actor, case)
        out = []
        for entry in self.store.audit_log(subject=case_id):
            e = entry.entry
            if not full and e.get("agency_id") not in (None, actor.agency):
                continue  # an agency's own activity is not shown to other agencies
            sub_meta = case.get("submissions", {}).get(e.get("submission_id"))
            if not full and sub_meta is not None and not access.can_see_submission(actor, case, sub_meta):
                continue  # entries written before they carried agency_id name the form they touched
            if not full and e.get("action") == "sync.read" and e.get("by", {}).get("user_id") != actor.user_id:
                continue  # a pull lists entity ids (other agencies' returns among them): coordinators only
            if not full and e.get("action") == "access.refused":
                continue  # who tried what they may not do: the lead partnership's staff only
            what = {k: v for k, v in e.items() if k not in ("action", "by", "device_id", "case_id")}
            for key in LINKED_IDS:  # a hand-off names the other case: only for those who may see it
                if key in what and not self._may_see(actor, what[key]):
                    what[key] = None
            out.append({"n": entry.n, "at": entry.at, "action": e.get("action"),
                        "by": e.get("by", {}).get("user_id"), "roles": e.get("by", {}).get("roles"),
                        "device_id": e.get("device_id"), "what": what})
        audit_read(self.store, actor, case_id, read="history")  # the history is case data too (ids only)
        return out


def _with_days_left(deadline: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """Working days (England) from today to an open deadline's due date, negative once overdue;
    None for a deadline met or missed (the app shows it beside the due date)."""
    if deadline["status"] in ("met", "missed"):
        return {**deadline, "working_days_left": None}
    due = dt.date.fromisoformat(deadline["due"])
    left = working_days_between(today, due) if due >= today else -working_days_between(due, today)
    return {**deadline, "working_days_left": left}


def conflict_view(doc: Any) -> dict[str, Any]:
    c = doc.data
    return {"conflict_id": doc.id, "submission_id": c["submission_id"], "form_id": c["form_id"], "path": c["path"],
            "kept": c["kept"], "incoming": c["incoming"], "kept_by": c["kept_by"], "kept_at": c["kept_at"],
            "incoming_by": c["incoming_by"], "incoming_at": c["incoming_at"], "resolved": c["resolved"],
            "version": doc.version}


def alert_visible(actor: Actor, alert: Mapping[str, Any]) -> bool:
    return actor.user_id in alert.get("recipients", ())


__all__ = ["ALERTS", "Reader", "alert_visible", "conflict_view"]
