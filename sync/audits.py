"""Audit entries for what is not a change: refused attempts and replayed answers (issue #10).

Ids only, never personal data: a case id is recorded only when it has the shape of one (a path
segment could hold anything a caller typed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from store import Store, UnitOfWork
from sync import access
from sync.actor import Actor
from sync.context import CASES
from sync.problems import Problem

_CASE_ID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
#: statuses that mean "you may not": the attempts worth a trace
REFUSALS = frozenset({401, 403, 404})


def case_ref(case_id: Any) -> str | None:
    return case_id if isinstance(case_id, str) and _CASE_ID.match(case_id) else None


def refusal_entry(actor: Actor, device_id: str | None, case_id: Any, what: str, problem: Mapping[str, Any]
                  ) -> dict[str, Any]:
    return {"action": "access.refused", "case_id": case_ref(case_id), "attempt": what,
            "status": problem.get("status"), "problem": str(problem.get("type", "")).rsplit("/", 1)[-1],
            "by": actor.audit_ref(), "device_id": device_id}


def audit_read(into: Store | UnitOfWork, actor: Actor, case_ids: str | Iterable[str] | None,
               action: str = "case.read", **what: Any) -> None:
    """The one read-audit entry: ``{action, case_id, by, device_id, ...what}``, one per case (one
    without a case for a read that is not of one case, e.g. an export), ids only. ``into`` is the
    unit of work of the answer (a write's response) or the store: then one commit holds them all,
    durable before the data leaves."""
    ids = [case_ids] if case_ids is None or isinstance(case_ids, str) else list(case_ids)
    if not ids:
        return
    if isinstance(into, UnitOfWork):
        for case_id in ids:
            into.audit({"action": action, "case_id": case_id, "by": actor.audit_ref(), "device_id": actor.device_id,
                        **what}, subject=case_id)
        return
    with into.transaction() as uow:
        audit_read(uow, actor, ids, action, **what)


def audit_refusal(uow: UnitOfWork, actor: Actor, mutation: Any, device_id: str | None,
                  problem: Mapping[str, Any]) -> None:
    """A mutation refused for access (403/404) leaves a trace, in the unit of work of its result."""
    if problem.get("status") in REFUSALS:
        entry = refusal_entry(actor, device_id, mutation.case_id, mutation.kind, problem)
        entry["mutation_id"] = mutation.mutation_id
        uow.audit(entry, subject=entry["case_id"])


def replay_read(uow: UnitOfWork, actor: Actor, record: Mapping[str, Any]) -> None:
    """A replayed answer that carries case data is a read: still allowed, and audited."""
    case_id = record.get("read_case")
    if not case_id:
        return
    doc = uow.get(CASES, case_id)
    if doc is None or not access.can_see_case(actor, doc.data):
        raise Problem(404, "case-not-found", "There is no case with this id that you can see.")
    audit_read(uow, actor, case_id, read="replay")
