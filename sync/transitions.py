"""The ``transition`` and ``approve`` handlers: a case moves through its case type's state machine.

The engine decides (``CaseType.evaluate``, pure); these handlers write what it decided inside the
caller's unit of work: an event that needs approvals opens a pending request and alerts the people
who can give them, the last approval fires it on behalf of whoever asked, and a fired event records
the new state, opens a linked case where the transition hands off (``sync.links``) and alerts the
people the new state names. Online endpoints and offline pushes call the same handlers
(``sync.commands.HANDLERS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statemachines.approvals import approval_status, eligible_slots
from statemachines.values import Vote
from sync import access, links
from sync.alerts import alert_approvers, alert_state_entered
from sync.context import CASES, Ctx
from sync.problems import Problem


# -- transition -----------------------------------------------------------------------------------
def transition(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> dict[str, Any]:
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    if payload["expected_state"] != case["state"]:
        return {"status": "conflict", "reason": "stale-state", "state": case["state"], "version": case_doc.version,
                "detail": f"The case is in {case['state']}, not the state you expected; nothing was changed."}
    ct = ctx.case_type_of(case)
    event = payload["event"]
    forms = ctx.final_forms(case)
    context = ctx.returns_context(case)
    timeline = ctx.timeline(case)
    decision = ct.evaluate(case["state"], event, ctx.engine_actor, forms, context, timeline=timeline)
    _raise_if_refused(decision)
    comment = payload.get("comment")
    if decision.waiting_for_approvals:
        pending = case.get("pending")
        if pending and pending["event"] == event:
            return {"status": "applied", "awaiting_approvals": True, "version": case_doc.version,
                    "state": case["state"], "approvals": _approvals_view(ct, case, forms, context, timeline)}
        new = {**case, "pending": {"event": event, "target": decision.target, "requested_by": ctx.actor.user_id,
                                   "requested_at": ctx.at, "comment_given": bool(comment), "votes": [],
                                   # the case version that shows this request: an offline vote made
                                   # from an older copy was cast on an earlier request, not this one
                                   "opened_at_version": case_doc.version + 1},
               "updated_at": ctx.at}
        doc = ctx.uow.update(CASES, case["case_id"], new, expected_version=case_doc.version, publish=True)
        ctx.audit("transition.requested", case["case_id"], event=event, state=case["state"], target=decision.target)
        alert_approvers(ctx, new, decision.approvals_needed, event)
        return {"status": "applied", "awaiting_approvals": True, "version": doc.version, "state": case["state"],
                "approvals": _approvals_view(ct, new, forms, context, timeline)}
    return _fire(ctx, ct, case_doc, event, forms, context, votes=())


def _raise_if_refused(decision) -> None:
    if decision.allowed:
        return
    kinds = {p.kind for p in decision.problems}
    if "unknown_event" in kinds:
        # the engine's reason repeats the caller's text, and a push result is stored: say it plainly
        raise Problem(422, "unknown-event", "There is no such event for this case type.")
    if decision.forbidden:
        raise Problem(403, "forbidden-role", "; ".join(decision.reasons), reasons=decision.reasons)
    if "not_from_state" in kinds:
        raise Problem(409, "event-not-possible", decision.reasons[0], reasons=decision.reasons)
    raise Problem(422, "transition-refused", "This step cannot be taken yet: " + "; ".join(decision.reasons),
                  reasons=decision.reasons)


def _fire(ctx: Ctx, ct, case_doc, event: str, forms, context, votes) -> dict[str, Any]:
    case = case_doc.data
    timeline = ctx.timeline(case)
    taken = ct.chosen_transition(case["state"], event, forms, context, timeline)
    new_state = ct.fire(case["state"], event, actor=ctx.engine_actor if not votes else _any_actor(ct, case, event),
                        forms=forms, context=context, votes=votes, timeline=timeline)
    history = [*case["state_history"], {"state": new_state, "entered_at": ctx.at,
                                        "entered_on": ctx.today.isoformat(), "event": event, "by": ctx.actor.user_id}]
    new = {**case, "state": new_state, "state_history": history, "pending": None, "updated_at": ctx.at}
    opened = None
    if taken is not None and taken.hand_off is not None:  # a linked case, in this same unit of work
        opened = links.open_linked_case(ctx, case, event, len(history) - 1, taken.hand_off, forms)
        new["links"] = [*(case.get("links") or []), opened]
    new["seen_by"] = sorted(set(case.get("seen_by", [])) | access.case_principals(new))
    doc = ctx.uow.update(CASES, case["case_id"], new, expected_version=case_doc.version, publish=True)
    ctx.audit("transition.fired", case["case_id"], event=event, source=case["state"], target=new_state,
              approvals=len(votes))
    alert_state_entered(ctx, ct, new, event)
    result = {"status": "applied", "state": new_state, "version": doc.version, "event": event}
    if opened is not None:
        result["opened_case"] = {k: opened[k] for k in ("case_id", "case_type", "reference")}
    return result


def _any_actor(ct, case, event):
    """After approvals, the transition runs on behalf of whoever requested it: the engine re-checks
    guards, forms and every approval, with the roles that may fire the event."""
    from statemachines.values import Actor as EngineActor

    roles = next((t.roles for t in ct.transitions_from(case["state"]) if t.event == event), ())
    return EngineActor(roles)


def _approvals_view(ct, case, forms, context, timeline) -> dict[str, Any]:
    pending = case.get("pending")
    if not pending:
        return {}
    slots = ct.approval_slots(case["state"], pending["event"], forms, context, timeline)
    status = approval_status(slots, _votes(pending))
    return {"event": pending["event"], **status.to_dict()}


def _votes(pending: Mapping[str, Any]) -> list[Vote]:
    return [Vote(v["role"], v["sector"], v["decision"], v["voter"]) for v in pending.get("votes", [])]


# -- approve ------------------------------------------------------------------------------------------
def approve(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> dict[str, Any]:
    decision_value = payload["decision"]
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    pending = case.get("pending")
    if not pending or pending["event"] != payload["event"]:
        return {"status": "conflict", "reason": "approval-not-open", "state": case["state"],
                "version": case_doc.version, "detail": "No approval is open for this step any more; nothing changed."}
    if base_version is not None and base_version < pending.get("opened_at_version", 0):
        return {"status": "conflict", "reason": "approval-request-reopened", "state": case["state"],
                "version": case_doc.version, "detail": "This decision was made on an earlier request for this step "
                "(the case has been asked again since); nothing changed. Review the case and decide again."}
    ct = ctx.case_type_of(case)
    forms = ctx.final_forms(case)
    context = ctx.returns_context(case)
    slots = ct.approval_slots(case["state"], pending["event"], forms, context, ctx.timeline(case))
    mine = eligible_slots(slots, ctx.engine_actor)
    if not mine:
        raise Problem(403, "not-an-approver", "You do not hold one of the approvals this step needs.")
    if any(v["voter"] == ctx.actor.user_id for v in pending["votes"]):
        raise Problem(409, "already-voted", "You have already recorded your decision on this step.")
    taken = {(v["role"], v["sector"]) for v in pending["votes"] if v["decision"] == "approve"}
    free = [s for s in mine if (s.role, ctx.actor.sector if s.sector else None) not in taken]
    if not free:
        raise Problem(409, "approval-already-given", "Another person has already given this partner's approval.")
    slot = free[0]
    vote = {"role": slot.role, "sector": ctx.actor.sector if slot.sector else None, "decision": decision_value,
            "voter": ctx.actor.user_id, "at": ctx.at, "commented": "comment" in payload}
    comment = payload.get("comment", "")
    if decision_value == "reject":
        new = {**case, "pending": None, "updated_at": ctx.at,
               "last_rejection": {"event": pending["event"], "by": ctx.actor.user_id, "role": slot.role,
                                  "sector": vote["sector"], "at": ctx.at, "reasons": comment[:2000]}}
        doc = ctx.uow.update(CASES, case["case_id"], new, expected_version=case_doc.version, publish=True)
        ctx.audit("approval.reject", case["case_id"], event=pending["event"], slot=slot.to_dict())
        ctx.alert(new, "approval_rejected", [pending["requested_by"]], event=pending["event"])
        return {"status": "applied", "rejected": True, "state": case["state"], "version": doc.version}
    pending = {**pending, "votes": [*pending["votes"], vote]}
    ctx.audit("approval.approve", case["case_id"], event=pending["event"], slot=slot.to_dict())
    status = approval_status(slots, _votes(pending))
    if status.satisfied:
        interim = ctx.uow.update(CASES, case["case_id"], {**case, "pending": pending, "updated_at": ctx.at},
                                 expected_version=case_doc.version, publish=True)
        return _fire(ctx, ct, interim, pending["event"], forms, context, votes=tuple(_votes(pending)))
    new = {**case, "pending": pending, "updated_at": ctx.at}
    doc = ctx.uow.update(CASES, case["case_id"], new, expected_version=case_doc.version, publish=True)
    return {"status": "applied", "awaiting_approvals": True, "state": case["state"], "version": doc.version,
            "approvals": {"event": pending["event"], **status.to_dict()}}
