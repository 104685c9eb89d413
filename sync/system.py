"""System mutations: writes the server makes on its own (deadline reminders and escalations).

They go through :class:`sync.service.WritePath` like every other write (``apply_system``), under a
named system actor, so they share the one alert builder (:func:`sync.context.alert_record`), the
one alert id scheme (:func:`sync.context.alert_id`) and the one audit shape (:meth:`Ctx.audit`,
``by`` naming the actor). Their kinds are in :data:`SYSTEM_HANDLERS` only: a sync push or an
online endpoint can never run them.

Exactly once: a system mutation's id *is* the id of what it writes (a deterministic alert id), and
the store's ``insert`` refuses a second one; a rescan meets the alert and answers ``duplicate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.actor import Actor
from sync.context import ALERTS, CASES, Ctx
from sync.problems import Problem

#: the deadline scheduler (``server/push/deadlines.py``); "system" is named "caseflow" in audit trails
DEADLINES = Actor(user_id="system", username="system:deadlines", partnership="*", roles=frozenset({"system"}))
DEADLINE_ALERT = "deadline_alert"
ALERT_KINDS = frozenset({"deadline_reminder", "deadline_overdue"})
#: the fields a deadline alert carries besides the builder's own
_DEADLINE_FIELDS = ("deadline", "due", "status", "day", "lead_days", "days_overdue")


def is_system(actor: Actor) -> bool:
    return actor.roles == frozenset({"system"})


def deadline_alert(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> dict:
    """Write one reminder or escalation alert (the scan decided it is due), audited, once."""
    if ctx.uow.get(ALERTS, ctx.mutation_id) is not None:
        return {"status": "duplicate", "alert_id": ctx.mutation_id}
    kind = payload.get("kind")
    if kind not in ALERT_KINDS:
        raise Problem(422, "validation-error", "A deadline alert is a deadline_reminder or a deadline_overdue.")
    case = ctx.uow.get(CASES, case_id) if isinstance(case_id, str) else None
    if case is None:
        raise Problem(404, "case-not-found", "There is no case with this id.")
    recipients = list(payload.get("recipients") or ())
    what = {k: payload[k] for k in _DEADLINE_FIELDS if k in payload}
    ctx.alert(case.data, kind, recipients, alert_id=ctx.mutation_id, **what)
    ctx.audit(f"alert.{kind}", case.id, alert_id=ctx.mutation_id, deadline=what.get("deadline"),
              recipients=len(set(recipients)))
    return {"status": "applied", "alert_id": ctx.mutation_id, "kind": kind}


SYSTEM_HANDLERS = {DEADLINE_ALERT: deadline_alert}

__all__ = ["DEADLINES", "DEADLINE_ALERT", "SYSTEM_HANDLERS", "deadline_alert", "is_system"]
