"""The command handlers: one per mutation kind. Each runs inside the caller's unit of work.

A handler receives its payload already loaded by the kind's one schema (``sync.payloads``): the
types are checked and defaults are filled in, so a handler never re-checks a field's type.

A handler returns its result (``status`` ``applied`` or ``conflict`` plus what the client needs),
or raises :class:`~sync.problems.Problem` to reject the mutation; the caller rolls back whatever
the handler wrote before it raised. Online endpoints and offline pushes call the same handlers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from forms.errors import FormError, RetiredVersion, UnknownForm
from statemachines.approvals import approval_status, eligible_slots
from statemachines.values import Vote
from store import DuplicateKey
from sync import access, links
from sync.amendments import request_amendment
from sync.context import CASES, CONFLICTS, REVISIONS, SUBMISSIONS, Ctx, final_step, per_agency, submission_id
from sync.merge import merge, seen_base
from sync.problems import MAX_LISTED_ERRORS, Problem
from sync.tasks import record_task

# the one spelling of a case id: upper-case or dash-less forms of one UUID would be separate cases
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def unusable_case_id() -> Problem:
    """One answer for a malformed id and for one already taken (in any partnership), so a refusal
    never confirms that a case exists elsewhere. The client's remedy is the same: a new UUID."""
    return Problem(422, "invalid-case-id", "A new case's id must be a new lower-case hyphenated UUID chosen by "
                   "the client; this one cannot be used.",
                   errors=[{"path": "/case_id", "message": "Use a new lower-case UUID with hyphens."}])


Result = dict[str, Any]


def _form_problem(exc: FormError, path: str) -> Problem:
    if isinstance(exc, UnknownForm):
        return Problem(422, "unknown-form", exc.detail, errors=[{"path": path + "/form_id", "message": exc.detail}])
    slug = "retired-form-version" if isinstance(exc, RetiredVersion) else "unknown-form-version"
    return Problem(422, slug, exc.detail, errors=[{"path": path + "/form_version", "message": exc.detail}],
                   available_versions=getattr(exc, "available", None))


def _validate_form(ctx: Ctx, form_id: str, version: Any, data: Any, final: bool, path: str) -> None:
    try:
        if ctx.validations is not None:  # usually answered from the validation done before the lock
            errors = ctx.validations.run(form_id, version, data, final=final, today=ctx.today)
        else:
            errors = ctx.forms.validate(form_id, version, data, final=final, today=ctx.today,
                                        limit=MAX_LISTED_ERRORS)
    except FormError as exc:
        raise _form_problem(exc, path) from None
    omitted, complete = getattr(errors, "omitted", 0), getattr(errors, "complete", True)
    if errors or not complete:  # not complete: counting stopped at the request's budget, so there are errors
        count = f"{len(errors) + omitted}" if complete else f"at least {len(errors) + omitted + 1}"
        listed = "every one is listed" if not omitted and complete else f"the first {len(errors)} are listed"
        if not errors:  # a push's budget was spent on earlier forms (ADR 0012, 0032)
            listed = "none are listed, as this request already listed its share; send it alone to see them"
        extra: dict[str, Any] = {"errors_omitted": omitted} if omitted or not complete else {}
        if not complete:
            extra["errors_counted"] = False  # counting stopped: there are more than errors_omitted
        raise Problem(422, "invalid-form-data",
                      f"The {form_id} form has {count} problem(s); {listed}.",
                      title="The form has invalid fields",
                      errors=[{"path": path + "/data" + e.path, "message": e.message} for e in errors], **extra)


# -- create_case -------------------------------------------------------------------------------
def referral_gate(case_types: Any, actor: Any, payload: Mapping[str, Any]) -> Any:
    """What ``create_case`` checks before it validates the referral (also asked before the write
    lock, :mod:`sync.prevalidate`, so a refused case costs no validation): the case type."""
    try:
        ct = case_types.get(payload["case_type"])
    except KeyError:
        raise Problem(422, "unknown-case-type", "There is no such case type.",
                      errors=[{"path": "/payload/case_type", "message": "Unknown case type."}]) from None
    form_id = payload["referral"]["form_id"]
    if not ct.form_open(form_id, ct.initial_state):
        raise Problem(422, "not-a-referral-form", f"A {ct.case_type} case opens with a form of its first state.",
                      errors=[{"path": "/payload/referral/form_id", "message": "This form does not open a case."}])
    if not ct.form_open(form_id, ct.initial_state, actor.roles):
        raise Problem(403, "forbidden-role", "Your roles may not open this kind of case.")
    return ct


def create_case(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    referral = payload["referral"]
    ct = referral_gate(ctx.case_types, ctx.actor, payload)
    initial = ct.initial_state
    form_id, version, data = referral["form_id"], referral["form_version"], referral["data"]
    _validate_form(ctx, form_id, version, data, True, "/payload/referral")
    involved = list(dict.fromkeys(data.get("involved_agencies", [])))
    unknown = [a for a in involved if not _agency_in(ctx, a, ctx.actor.partnership)]
    if unknown:
        raise Problem(422, "unknown-agency", "Some involved agencies are not agencies of your partnership.",
                      errors=[{"path": f"/payload/referral/data/involved_agencies/{involved.index(a)}",
                               "message": "Not an agency of this partnership."} for a in unknown])
    if case_id is None:
        case_id = str(uuid.uuid4())
    elif not isinstance(case_id, str) or not UUID.match(case_id):
        raise unusable_case_id()
    reference = _next_reference(ctx, ctx.actor.partnership)
    sub_id = submission_id(case_id, form_id, None)
    case = {
        "case_id": case_id, "reference": reference, "case_type": ct.case_type, "case_type_version": ct.version,
        "partnership": ctx.actor.partnership, "state": initial,
        "state_history": [{"state": initial, "entered_at": ctx.at, "entered_on": ctx.today.isoformat(),
                           "event": None, "by": ctx.actor.user_id}],
        "involved_agencies": involved, "referring_agency": ctx.actor.agency, "invited_partnerships": [],
        "assigned_reviewers": [], "pending": None, "last_rejection": None,
        "submissions": {sub_id: {"form_id": form_id, "agency_id": None, "status": "final"}},
        "created_at": ctx.at, "created_by": ctx.actor.user_id, "updated_at": ctx.at,
    }
    case["seen_by"] = sorted(access.case_principals(case))
    try:
        doc = ctx.uow.insert(CASES, case_id, case, publish=True)
    except DuplicateKey:
        raise unusable_case_id() from None
    _write_submission(ctx, case, sub_id, form_id, version, data, "final", None, None)
    ctx.audit("case.create", case_id, case_type=ct.case_type, state=initial, form_id=form_id)
    _alert_state_entered(ctx, ct, case, None)
    return {"status": "applied", "case_id": case_id, "reference": reference, "version": doc.version,
            "state": initial}


def _agency_in(ctx: Ctx, agency_id: Any, partnership: str) -> bool:
    doc = ctx.uow.get("agencies", agency_id) if isinstance(agency_id, str) else None
    # an agency an admin made inactive is no longer asked for returns on new cases
    return doc is not None and doc.data["partnership"] == partnership and doc.data.get("active", True)


def _next_reference(ctx: Ctx, partnership: str) -> str:
    year = ctx.today.year
    key = f"{partnership}.{year}"
    counter = ctx.uow.get("case_references", key)
    if counter is None:
        ctx.uow.insert("case_references", key, {"next": 2})
        n = 1
    else:
        n = counter.data["next"]
        ctx.uow.update("case_references", key, {"next": n + 1}, expected_version=counter.version)
    p = ctx.uow.get("partnerships", partnership)
    prefix = (p.data.get("reference_prefix") if p else None) or "".join(w[0] for w in partnership.split("-")).upper()
    return f"{prefix}-{year}-{n:04d}"


# -- save_submission ---------------------------------------------------------------------------
def submission_gate(forms: Any, ct: Any, actor: Any, case: Mapping[str, Any], payload: Mapping[str, Any]
                    ) -> str | None:
    """What ``save_submission`` checks, on a case the actor may write, before it validates the
    form: the form exists and is open in the case's state to the actor's roles, and a per-agency
    return is the actor's own agency's. Returns that agency (None for a case-wide form). Also asked
    before the write lock (:mod:`sync.prevalidate`): a form the case refuses costs no validation."""
    form_id = payload["form_id"]
    try:
        forms.get(form_id)
    except FormError as exc:
        raise _form_problem(exc, "/payload") from None
    opened, open_to_actor = ct.form_access(form_id, case["state"], actor.roles)
    if not opened:
        raise Problem(409, "form-locked", f"The {form_id} form is not open while the case is in {case['state']}.")
    if not open_to_actor:
        raise Problem(403, "forbidden-role", f"Your roles may not fill the {form_id} form.")
    agency_id = None
    if per_agency(forms, form_id):
        agency_id = actor.agency
        if agency_id is None or agency_id not in case.get("involved_agencies", ()):
            raise Problem(403, "agency-not-involved", "Only an involved agency fills its own return.")
        if payload["data"].get("agency_id", agency_id) != agency_id:
            raise Problem(403, "not-your-agency", "An agency fills only its own return.",
                          errors=[{"path": "/payload/data/agency_id", "message": "Must be your own agency."}])
    return agency_id


def save_submission(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    status = payload["status"]
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    form_id = payload["form_id"]
    ct = ctx.case_type_of(case)
    agency_id = submission_gate(ctx.forms, ct, ctx.actor, case, payload)
    _validate_form(ctx, form_id, payload["form_version"], payload["data"], status == "final", "/payload")
    if status == "final":  # a field that names a clock names one of this case type's (a delay notice)
        wrong = ct.clock_name_errors(form_id, payload["data"])
        if wrong:
            raise Problem(422, "unknown-clock", f"The {form_id} form names a clock this case type does not have.",
                          title="The form has invalid fields",
                          errors=[{"path": f"/payload/data/{f}", "message": m} for f, m in wrong])
    sub_id = submission_id(case["case_id"], form_id, agency_id)
    existing = ctx.uow.get(SUBMISSIONS, sub_id)
    if existing and existing.data["status"] == "final" and status == "draft":
        raise Problem(409, "final-is-immutable",
                      "This form was submitted as final; amend it by submitting a final again.")
    result = _write_submission(ctx, case, sub_id, form_id, payload["form_version"], payload["data"], status,
                               agency_id, base_version, existing=existing)
    opening = links.complete_opening(ctx, case, form_id, payload["data"], status)  # a hand-off case's referral
    sent_back = existing.data.get("amendment_requested") if existing is not None else None
    if sent_back and status == "final":  # the amended return is in: tell whoever sent it back
        ctx.alert(case, "amendment_returned", [sent_back["requested_by"]], agency_id=agency_id, form_id=form_id)
    meta = dict(case["submissions"])
    meta[sub_id] = {"form_id": form_id, "agency_id": agency_id, "status": status}
    if meta != case["submissions"] or opening:
        ctx.uow.update(CASES, case["case_id"], {**case, **opening, "submissions": meta, "updated_at": ctx.at},
                       expected_version=case_doc.version, publish=True)
    if opening:  # its involved agencies changed: who may open the links changed
        links.republish_linked(ctx, case)
    ctx.audit("submission.save", case["case_id"], form_id=form_id, agency_id=agency_id, status=status,
              submission_id=sub_id, version=result["version"])
    return result


def _write_submission(ctx: Ctx, case: Mapping[str, Any], sub_id: str, form_id: str, form_version: int, data: dict,
                      status: str, agency_id: str | None, base_version: int | None, existing=None) -> Result:
    conflicts = []
    if existing is not None and base_version is not None and base_version < existing.version:
        base_doc = ctx.uow.get(REVISIONS, f"{sub_id}@{base_version}")
        if base_doc is None:
            raise Problem(422, "unknown-base-version", "base_version is not a revision of this form.",
                          errors=[{"path": "/base_version", "message": "Unknown revision."}])
        data, conflicts = merge(_seen_base(ctx, sub_id, base_doc, existing.version), existing.data["data"], data)
    elif existing is not None and base_version is not None and base_version > existing.version:
        raise Problem(422, "unknown-base-version", "base_version is ahead of the server's revision.",
                      errors=[{"path": "/base_version", "message": "Unknown revision."}])
    body = {"submission_id": sub_id, "case_id": case["case_id"], "form_id": form_id, "form_version": form_version,
            "agency_id": agency_id, "status": status, "data": data, "updated_at": ctx.at,
            "updated_by": ctx.actor.user_id, "partnership": case["partnership"],
            "open_conflicts": list(existing.data.get("open_conflicts", [])) if existing else []}
    if status == "final":  # which round this final belongs to (a state's fresh_forms)
        body["final_step"] = final_step(case)
    if existing is not None:  # a CRG's send-back (sync.amendments) stays open until a new final
        if existing.data.get("amendment_requests"):
            body["amendment_requests"] = existing.data["amendment_requests"]
        if status != "final" and existing.data.get("amendment_requested"):
            body["amendment_requested"] = existing.data["amendment_requested"]
    conflict_ids = []
    for c in conflicts:
        cid = uuid.uuid4().hex
        conflict_ids.append(cid)
        ctx.uow.insert(CONFLICTS, cid, {
            "conflict_id": cid, "case_id": case["case_id"], "submission_id": sub_id, "form_id": form_id,
            "agency_id": agency_id, "partnership": case["partnership"], **c.to_dict(),
            "kept_by": existing.data["updated_by"], "kept_at": existing.data["updated_at"],
            "incoming_by": ctx.actor.user_id, "incoming_at": ctx.at, "incoming_device": ctx.device_id,
            "incoming_mutation": ctx.mutation_id, "base_version": base_version, "resolved": False,
        }, publish=True)
    body["open_conflicts"] += conflict_ids
    if existing is None:
        doc = ctx.uow.insert(SUBMISSIONS, sub_id, body, publish=True)
    else:
        doc = ctx.uow.update(SUBMISSIONS, sub_id, body, expected_version=existing.version, publish=True)
    ctx.uow.insert(REVISIONS, f"{sub_id}@{doc.version}", {
        "revision": doc.version, "status": status, "form_version": form_version, "data": data, "at": ctx.at,
        "by": ctx.actor.user_id, "device_id": ctx.device_id, "mutation_id": ctx.mutation_id})
    out: Result = {"status": "conflict" if conflicts else "applied", "submission_id": sub_id, "version": doc.version}
    if conflicts:
        out["conflicts"] = conflict_ids
        out["detail"] = ("Someone else changed the same fields: the server kept their values and recorded yours "
                         "in a conflict for a person to resolve. Your other changes were merged.")
    return out


#: revisions after base_version that a save reads to learn what its device has seen (below)
SEEN_WALK_LIMIT = 200


def _seen_base(ctx: Ctx, sub_id: str, base_doc, version: int) -> Any:
    """The base as this device knows it: its own revisions since base_version count as seen, so two
    offline edits of one field from one device do not clash (ADR 0007).

    The walk reads every revision after the base, under the write lock: a base_version far behind
    (a device back after months, or a hostile client) would make each save of a push read them all.
    Past ``SEEN_WALK_LIMIT`` revisions the save merges from the plain base, as for a gap in the
    chain: the device's own earlier edits no longer count as seen, so typing over them again is a
    recorded conflict for a person to resolve, never a lost value."""
    base = base_doc.data["data"]
    if ctx.device_id is None or version - base_doc.data["revision"] > SEEN_WALK_LIMIT:
        return base
    later = []
    for v in range(base_doc.data["revision"] + 1, version + 1):
        rev = ctx.uow.get(REVISIONS, f"{sub_id}@{v}")
        if rev is None:
            return base  # a gap in the chain: claim nothing, merge as from the plain base
        mine = rev.data.get("device_id") == ctx.device_id and rev.data.get("by") == ctx.actor.user_id
        later.append((rev.data["data"], mine))
    return seen_base(base, later)


# -- transition -----------------------------------------------------------------------------------
def transition(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
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
        _alert_approvers(ctx, new, decision.approvals_needed, event)
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


def _fire(ctx: Ctx, ct, case_doc, event: str, forms, context, votes) -> Result:
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
    _alert_state_entered(ctx, ct, new, event)
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
def approve(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
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
    slot = mine[0]
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


# -- resolve_conflict -------------------------------------------------------------------------------
def resolve_conflict(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    choose = payload["choose"]
    case_doc = ctx.case_for_write(case_id)
    conflict = ctx.uow.get(CONFLICTS, payload["conflict_id"])
    if conflict is None or conflict.data["case_id"] != case_doc.id:
        raise Problem(404, "conflict-not-found", "There is no such conflict on this case.")
    sub = ctx.uow.get(SUBMISSIONS, conflict.data["submission_id"])
    if not access.can_see_submission(ctx.actor, case_doc.data, sub.data):
        raise Problem(404, "conflict-not-found", "There is no such conflict on this case.")
    if conflict.data["resolved"]:  # only after the access check: another agency learns nothing
        return {"status": "applied", "already_resolved": True, "version": conflict.version}
    ct = ctx.case_type_of(case_doc.data)
    if not ct.form_open(sub.data["form_id"], case_doc.data["state"], ctx.actor.roles):
        raise Problem(403, "forbidden-role", "Your roles may not change this form now.")
    if choose == "kept":
        data = sub.data["data"]
    else:
        data = resolved_data(sub.data["data"], conflict.data, payload)
        if data is None:
            raise Problem(409, "conflict-target-gone",
                          "The field or row this conflict is about is no longer in the form (a later save removed "
                          "it), so no value can be set there; resolve the conflict with choose=kept.")
        _validate_form(ctx, sub.data["form_id"], sub.data["form_version"], data, sub.data["status"] == "final",
                       "/payload")
    open_conflicts = [c for c in sub.data.get("open_conflicts", []) if c != conflict.id]
    new_sub = {**sub.data, "data": data, "open_conflicts": open_conflicts, "updated_at": ctx.at,
               "updated_by": ctx.actor.user_id}
    doc = ctx.uow.update(SUBMISSIONS, sub.id, new_sub, expected_version=sub.version, publish=True)
    ctx.uow.insert(REVISIONS, f"{sub.id}@{doc.version}", {
        "revision": doc.version, "status": sub.data["status"], "form_version": sub.data["form_version"],
        "data": data, "at": ctx.at, "by": ctx.actor.user_id, "device_id": ctx.device_id,
        "mutation_id": ctx.mutation_id})
    ctx.uow.update(CONFLICTS, conflict.id, {**conflict.data, "resolved": True, "resolution": choose,
                                            "resolved_by": ctx.actor.user_id, "resolved_at": ctx.at},
                   expected_version=conflict.version, publish=True)
    ctx.audit("conflict.resolve", case_doc.id, conflict_id=conflict.id, choose=choose, submission_id=sub.id,
              agency_id=sub.data["agency_id"])  # history hides an agency's own work from other agencies
    return {"status": "applied", "submission_id": sub.id, "version": doc.version}


def resolved_data(data: Any, conflict: Mapping[str, Any], payload: Mapping[str, Any]) -> Any:
    """The form's data with the conflict's field set to the incoming edit (``choose=incoming``) or to
    ``payload["value"]``; None when that field's parent is gone (a later save removed its row)."""
    incoming = payload.get("choose") == "incoming"
    value = conflict["incoming"] if incoming else payload.get("value")
    absent = conflict["incoming_absent"] if incoming else "value" not in payload
    try:
        return _set_pointer(data, conflict["path"], value, absent)
    except _Gone:
        return None


class _Gone(Exception):
    """The pointer's parent does not exist (any more) in the data."""


def _set_pointer(data: Any, pointer: str, value: Any, absent: bool) -> Any:
    import copy

    root = copy.deepcopy(data)
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    if not parts:
        return value
    node = root
    for part in parts[:-1]:
        node = _step(node, part)
    last = parts[-1]
    if isinstance(node, list) and last.startswith("row_id="):
        idx = _row_index(node, last[len("row_id="):])
        if absent:
            if idx is not None:
                node.pop(idx)
        elif idx is None:
            node.append(value)
        else:
            node[idx] = value
    elif not isinstance(node, dict):
        raise _Gone(pointer)
    elif absent:
        node.pop(last, None)
    else:
        node[last] = value
    return root


def _row_index(rows: list[Any], row_id: str) -> int | None:
    return next((i for i, r in enumerate(rows) if isinstance(r, dict) and r.get("row_id") == row_id), None)


def _step(node: Any, part: str) -> Any:
    if isinstance(node, list) and part.startswith("row_id="):
        idx = _row_index(node, part[len("row_id="):])
        if idx is None:
            raise _Gone(part)
        return node[idx]
    if not isinstance(node, dict) or part not in node:
        raise _Gone(part)
    return node[part]


# -- assignment and invitations ---------------------------------------------------------------------
def assign_reviewer(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    if not ctx.actor.has_role("business_team", "crg_member"):
        raise Problem(403, "forbidden-role", "Only the business team or the CRG assign reviewers.")
    user = ctx.uow.get("users", payload["user_id"])
    if user is None or user.data["partnership"] != case["partnership"] or "lead_reviewer" not in user.data["roles"]:
        raise Problem(422, "not-a-reviewer", "That user is not a lead reviewer of this partnership.",
                      errors=[{"path": "/payload/user_id", "message": "Not a lead reviewer of this partnership."}])
    assigned = payload["assigned"]  # a strict boolean (sync.payloads): "false" never reaches here
    reviewers = [u for u in case["assigned_reviewers"] if u != user.id] + ([user.id] if assigned else [])
    new = {**case, "assigned_reviewers": reviewers, "updated_at": ctx.at}
    new["seen_by"] = sorted(set(case.get("seen_by", [])) | access.case_principals(new))
    doc = ctx.uow.update(CASES, case["case_id"], new, expected_version=case_doc.version, publish=True)
    links.republish_linked(ctx, new)  # who may open the links changed
    ctx.audit("case.assign" if assigned else "case.unassign", case["case_id"], user_id=user.id)
    if assigned:
        ctx.alert(new, "assigned", [user.id])
    return {"status": "applied", "version": doc.version}


def invite_partnership(ctx: Ctx, case_id: str | None, payload: Mapping[str, Any], base_version: int | None) -> Result:
    case_doc = ctx.case_for_write(case_id)
    case = case_doc.data
    if not access.is_home_staff(ctx.actor, case) or not ctx.actor.has_role("business_team"):
        raise Problem(403, "forbidden-role", "Only the lead partnership's business team invites partnerships.")
    other = payload["partnership"]
    if other == case["partnership"] or ctx.uow.get("partnerships", other) is None:
        raise Problem(422, "unknown-partnership", "That is not another partnership.",
                      errors=[{"path": "/payload/partnership", "message": "Unknown partnership."}])
    invited = payload["invited"]  # a strict boolean (sync.payloads): "false" never reaches here
    partners = [p for p in case["invited_partnerships"] if p != other] + ([other] if invited else [])
    new = {**case, "invited_partnerships": partners, "updated_at": ctx.at}
    new["seen_by"] = sorted(set(case.get("seen_by", [])) | access.case_principals(new))
    doc = ctx.uow.update(CASES, case["case_id"], new, expected_version=case_doc.version, publish=True)
    links.republish_linked(ctx, new)
    ctx.audit("case.invite" if invited else "case.uninvite", case["case_id"], partnership=other)
    return {"status": "applied", "version": doc.version}


# -- alerts ------------------------------------------------------------------------------------------
def _alert_state_entered(ctx: Ctx, ct, case: Mapping[str, Any], event: str | None) -> None:
    targets = ct.notifications_on_enter(case["state"])
    recipients = ctx.directory.resolve(case, targets) if targets else []
    recipients = [u for u in recipients if u != ctx.actor.user_id]
    ctx.alert(case, "state_entered", recipients, event=event)


def _alert_approvers(ctx: Ctx, case: Mapping[str, Any], slots, event: str) -> None:
    users = []
    for slot in slots:
        for u in ctx.directory.active_users(case["partnership"]):
            if slot.role in u["roles"] and (slot.sector is None or _sector_of(ctx, u) == slot.sector):
                users.append(u["user_id"])
    ctx.alert(case, "approval_needed", users, event=event)


def _sector_of(ctx: Ctx, user: Mapping[str, Any]) -> str | None:
    if not user.get("agency"):
        return None
    doc = ctx.uow.get("agencies", user["agency"])
    return doc.data["sector"] if doc else None


HANDLERS: dict[str, Callable[[Ctx, str | None, Mapping[str, Any], int | None], Result]] = {
    "create_case": create_case,
    "save_submission": save_submission,
    "transition": transition,
    "approve": approve,
    "resolve_conflict": resolve_conflict,
    "assign_reviewer": assign_reviewer,
    "invite_partnership": invite_partnership,
    "request_amendment": request_amendment,
    "record_task": record_task,
}
