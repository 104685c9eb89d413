"""What one mutation handler works with: the unit of work, the actor, the definitions, the clock.

It also holds the small read helpers every handler shares (load a case the actor may act on,
the latest final forms of a case, the engine's view of the actor) and the writers that keep the
audit trail and the alert outbox in the same unit of work as the change.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forms.registry import FormRegistry
from statemachines.values import Actor as EngineActor
from statemachines.values import Timeline
from store import Document, UnitOfWork
from sync import access
from sync.actor import Actor
from sync.clock import rfc3339
from sync.problems import Problem

CASES, SUBMISSIONS, REVISIONS, CONFLICTS, ALERTS = "cases", "submissions", "revisions", "conflicts", "alerts"


def submission_id(case_id: str, form_id: str, agency_id: str | None) -> str:
    return f"{case_id}.{form_id}" + (f".{agency_id}" if agency_id else "")


def per_agency(forms: FormRegistry, form_id: str) -> bool:
    """A form whose schema has an ``agency_id`` field is filled once per involved agency (declared
    in the form's data, not in code)."""
    return "agency_id" in forms.get(form_id).schema.get("properties", {})


def final_forms(case: Mapping[str, Any], get: Any) -> dict[str, Any]:
    """Data of the latest final submission of each (non per-agency) form of the case; ``get``
    reads a submission by id (committed state or the current unit of work)."""
    out: dict[str, Any] = {}
    for sub_id, meta in case.get("submissions", {}).items():
        if meta.get("agency_id") is None and meta.get("status") == "final":
            doc = get(sub_id)
            if doc:
                out[doc.data["form_id"]] = doc.data["data"]
    return out


def final_step(case: Mapping[str, Any]) -> int:
    """Where a final submission made now falls in the case's rounds: the position of the current
    state's entry in ``state_history`` (stored on the submission as ``final_step``)."""
    return len(case["state_history"]) - 1


def timeline(case: Mapping[str, Any], get: Any) -> Timeline:
    """The engine's view of the case's rounds: states entered in order, and the position at which
    each (non per-agency) form's latest final was submitted. Submissions written before positions
    were recorded fall back to their time (the last state entered at or before it)."""
    history = case["state_history"]
    final_at: dict[str, int] = {}
    for sub_id, meta in case.get("submissions", {}).items():
        if meta.get("agency_id") is None and meta.get("status") == "final":
            doc = get(sub_id)
            if doc is None:
                continue
            step = doc.data.get("final_step")
            if not isinstance(step, int):
                at = doc.data.get("updated_at", "")
                step = max((i for i, h in enumerate(history) if h["entered_at"] <= at), default=0)
            final_at[doc.data["form_id"]] = step
    return Timeline(tuple(h["state"] for h in history), final_at)


def returns_context(case: Mapping[str, Any]) -> dict[str, Any]:
    """The agencies' rapid-review returns, counted for the engine's guards."""
    expected = list(case.get("involved_agencies", ()))
    returned = {m["agency_id"] for m in case.get("submissions", {}).values()
                if m.get("agency_id") and m.get("status") == "final"}
    missing = [a for a in expected if a not in returned]
    return {"returns": {"expected": len(expected), "received": len(expected) - len(missing),
                        "missing": len(missing), "missing_agencies": missing, "all_received": not missing}}


def engine_context(case: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the engine reads besides forms: the counted returns and the recorded tasks."""
    return {**returns_context(case), "tasks": dict(case.get("tasks") or {})}


def new_alert_id(case_id: str, key: str | None = None) -> str:
    """The one alert id scheme: ``{case_id}.{key}``, the case id first so the pull feed can skip an
    alert of a case the caller never could see unread; ``key`` is deterministic for an alert that
    must exist once (``dl.{deadline}.{due}.r{lead}``), random otherwise."""
    return f"{case_id}.{key or uuid.uuid4().hex}"


def alert_record(case: Mapping[str, Any], alert_id: str, kind: str, recipients: list[str], at: str,
                 **what: Any) -> dict[str, Any]:
    """The one alert builder: ids and the case's state only, never personal data."""
    return {"alert_id": alert_id, "case_id": case["case_id"], "reference": case["reference"],
            "partnership": case["partnership"], "kind": kind, "state": case["state"],
            "recipients": sorted(set(recipients)), "created_at": at, "delivery": "pending", **what}


@dataclass
class Ctx:
    uow: UnitOfWork
    actor: Actor
    forms: FormRegistry
    case_types: Any  # statemachines registry
    now: dt.datetime
    today: dt.date
    mutation_id: str
    device_id: str | None
    directory: Any = None  # sync.recipients.Directory
    validations: Any = None  # sync.prevalidate.Validations: forms validated before the write lock

    @functools.cached_property
    def at(self) -> str:  # a handler's every record of one mutation carries this one time
        return rfc3339(self.now)

    @property
    def engine_actor(self) -> EngineActor:
        return EngineActor(self.actor.roles, self.actor.sector)

    # -- reads --------------------------------------------------------------------------
    def case_for_write(self, case_id: str | None) -> Document:
        """The case, if the actor may act on it; 404 (not 403) when they may not even see it."""
        doc = self.uow.get(CASES, case_id) if isinstance(case_id, str) else None
        if doc is None or not access.can_see_case(self.actor, doc.data):
            raise Problem(404, "case-not-found", "There is no case with this id that you can see.")
        if not access.can_write_case(self.actor, doc.data):
            raise Problem(403, "case-read-only", "Your partnership was invited to read this case, not to change it.")
        return doc

    def case_type_of(self, case: Mapping[str, Any]):
        return self.case_types.get(case["case_type"], case["case_type_version"])

    def final_forms(self, case: Mapping[str, Any]) -> dict[str, Any]:
        return final_forms(case, lambda sub_id: self.uow.get(SUBMISSIONS, sub_id))

    def returns_context(self, case: Mapping[str, Any]) -> dict[str, Any]:
        return engine_context(case)

    def engine_context(self, case: Mapping[str, Any]) -> dict[str, Any]:
        return engine_context(case)

    def timeline(self, case: Mapping[str, Any]) -> Timeline:
        return timeline(case, lambda sub_id: self.uow.get(SUBMISSIONS, sub_id))

    # -- writes ----------------------------------------------------------------------------
    def audit(self, action: str, case_id: str | None, **what: Any) -> None:
        entry = {"action": action, "case_id": case_id, "mutation_id": self.mutation_id,
                 "by": self.actor.audit_ref(), "device_id": self.device_id, **what}
        self.uow.audit(entry, subject=case_id)

    def alert(self, case: Mapping[str, Any], kind: str, recipients: list[str], *, alert_id: str | None = None,
              **what: Any) -> None:
        """Queue an alert in this unit of work: the pull feed carries it, the push worker sends it.
        ``alert_id`` is given for an alert that must exist once (a deadline reminder's key)."""
        if not recipients:
            return
        record = alert_record(case, alert_id or new_alert_id(case["case_id"]), kind, recipients, self.at, **what)
        self.uow.insert(ALERTS, record["alert_id"], record, publish=True)
